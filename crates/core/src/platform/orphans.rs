//! Ending what a killed engine left running. Every process a build starts
//! carries `SLIPWAY_EXECUTION_ID` in its environment (children inherit it),
//! so the next engine can find the processes of executions it marks
//! `Interrupted` and end them, without trusting recorded pids that the OS
//! may have reused since.

/// The environment variable every build process carries.
pub const EXECUTION_ENV: &str = "SLIPWAY_EXECUTION_ID";

/// Linux: reads each process's environment from /proc and kills (SIGKILL)
/// those whose `SLIPWAY_EXECUTION_ID` is one of `executions`. Returns how
/// many it killed.
#[cfg(target_os = "linux")]
pub fn kill_orphans(executions: &[String]) -> usize {
    if executions.is_empty() {
        return 0;
    }
    let wanted: Vec<Vec<u8>> = executions
        .iter()
        .map(|id| format!("{EXECUTION_ENV}={id}").into_bytes())
        .collect();
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        // Processes of other users are unreadable: they are not ours.
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|b| *b == 0)
            .any(|var| wanted.iter().any(|w| w.as_slice() == var))
        {
            // SAFETY: kill(2) with a positive pid and a valid signal has no
            // memory-safety preconditions.
            if unsafe { libc::kill(pid as i32, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
    }
    killed
}

/// macOS has no /proc: `ps -E` shows each process's environment after its
/// command line, which is enough to find the tag.
#[cfg(target_os = "macos")]
pub fn kill_orphans(executions: &[String]) -> usize {
    if executions.is_empty() {
        return 0;
    }
    let Ok(out) = std::process::Command::new("ps")
        .args(["-axwwE", "-o", "pid=,command="])
        .output()
    else {
        return 0;
    };
    let me = std::process::id();
    let mut killed = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let line = line.trim_start();
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let tagged = executions
            .iter()
            .any(|id| rest.contains(&format!("{EXECUTION_ENV}={id}")));
        if tagged && pid != me {
            // SAFETY: as on Linux.
            if unsafe { libc::kill(pid as i32, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
    }
    killed
}

/// Windows: every build's processes belong to a Job Object created with
/// KILL_ON_JOB_CLOSE, so the OS ended them when the engine's handle closed
/// with its process. Nothing is left to find.
#[cfg(windows)]
pub fn kill_orphans(_executions: &[String]) -> usize {
    0
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn only_processes_tagged_with_an_interrupted_execution_are_ended() {
        let spawn = |id: &str| {
            std::process::Command::new("sleep")
                .arg("30")
                .env(EXECUTION_ENV, id)
                .spawn()
                .unwrap()
        };
        let mut orphan = spawn("interrupted-1");
        let mut bystander = spawn("still-running-2");
        assert_eq!(kill_orphans(&["interrupted-1".to_string()]), 1);
        let status = orphan.wait().unwrap();
        assert!(!status.success());
        assert!(
            bystander.try_wait().unwrap().is_none(),
            "others are left alone"
        );
        bystander.kill().unwrap();
        bystander.wait().unwrap();
    }
}
