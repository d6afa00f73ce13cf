//! Process groups: every build or hook command Slipway starts lives in a
//! group of its own, so that stopping it reaches the whole tree it spawned
//! (background jobs, `make -j` children, servers started "just for the
//! tests"), not only the shell at its root.
//!
//! This module owns spawning into a group and ending a group. It must never
//! decide *when* to stop (that is the caller's policy: a stop request, a
//! timeout, the end of a build) and never reads the processes' output.
//!
//! - Unix: the child becomes the leader of a new process group
//!   (`setpgid(0, 0)` via [`CommandExt::process_group`]); stopping sends
//!   `SIGTERM` to the group, waits up to a grace period for every member to
//!   end, then sends `SIGKILL`.
//! - Windows: the child is assigned to a Job Object created for it; stopping
//!   terminates the job (Windows has no portable "please exit" signal for
//!   console trees, so there is no grace period).
//!
//! A process that deliberately leaves its group (`setsid`, a double-forking
//! daemon) escapes both mechanisms; on Linux only a PID namespace or a cgroup
//! could hold it, which is out of scope for a desktop app.
//!
//! [`CommandExt::process_group`]: std::os::unix::process::CommandExt::process_group

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::process::{Child, Command};

/// How often a stopping group is checked for remaining members. Short enough
/// that a well-behaved build stops within a few tens of milliseconds of its
/// processes exiting, long enough that polling `/proc` costs nothing.
const POLL: Duration = Duration::from_millis(20);

/// A spawned command and every process it starts (unless they leave the
/// group on purpose). Dropping it kills the whole group at once, so a
/// cancelled future never leaves processes behind.
#[derive(Debug)]
pub struct ProcessGroup {
    child: Child,
    ended: bool,
    #[cfg(unix)]
    pgid: i32,
    #[cfg(windows)]
    job: windows::Job,
}

/// Spawns `cmd` as the root of a new process group.
pub fn spawn_group(cmd: &mut Command) -> io::Result<ProcessGroup> {
    #[cfg(unix)]
    {
        // 0 = "a new group whose id is the child's pid", set between fork
        // and exec so no grandchild can be started outside the group.
        cmd.process_group(0);
        cmd.kill_on_drop(true);
        let child = cmd.spawn()?;
        let pgid = child
            .id()
            .ok_or_else(|| io::Error::other("the child exited before it could be grouped"))?
            as i32;
        Ok(ProcessGroup {
            child,
            ended: false,
            pgid,
        })
    }
    #[cfg(windows)]
    {
        cmd.creation_flags(windows::CREATE_NEW_PROCESS_GROUP);
        cmd.kill_on_drop(true);
        let child = cmd.spawn()?;
        let job = windows::Job::for_child(&child)?;
        Ok(ProcessGroup {
            child,
            ended: false,
            job,
        })
    }
}

impl ProcessGroup {
    /// The process id of the group's root (the spawned command).
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Waits for the root process only; members it left running stay alive
    /// until [`ProcessGroup::stop`].
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Whether any process of the group is still running. Processes that
    /// have exited but not yet been reaped by their parent (zombies) count
    /// as gone: they run no code and hold no resources but a pid.
    pub fn is_alive(&mut self) -> bool {
        if self.ended {
            return false;
        }
        // Reap the root if it has exited, so it does not count as a member.
        let _ = self.child.try_wait();
        #[cfg(unix)]
        {
            unix::group_alive(self.pgid)
        }
        #[cfg(windows)]
        {
            self.job.has_processes()
        }
    }

    /// Ends every process of the group: a polite request first, then, for
    /// whatever is still running after `grace`, a kill that cannot be
    /// ignored. Returns once no member runs any more, with the root's exit
    /// status when it is known.
    pub async fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        stop_all(std::slice::from_mut(self), grace).await;
        tokio::time::timeout(Duration::from_secs(1), self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    fn terminate(&mut self) {
        #[cfg(unix)]
        unix::signal_group(self.pgid, libc::SIGTERM);
        // Windows has no polite request for a console tree; the grace
        // period is spent waiting and the job is terminated after it.
    }

    /// Kills every member at once, without a grace period.
    pub fn kill_now(&mut self) {
        #[cfg(unix)]
        unix::signal_group(self.pgid, libc::SIGKILL);
        #[cfg(windows)]
        self.job.terminate();
        let _ = self.child.start_kill();
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if !self.ended && self.is_alive() {
            self.kill_now();
        }
    }
}

/// Stops several groups together, so their grace periods overlap: SIGTERM
/// to all, one shared wait, then SIGKILL to whatever is left.
pub async fn stop_all(groups: &mut [ProcessGroup], grace: Duration) {
    let mut alive: Vec<&mut ProcessGroup> = groups
        .iter_mut()
        .filter_map(|g| g.is_alive().then_some(g))
        .collect();
    for g in alive.iter_mut() {
        g.terminate();
    }
    let deadline = tokio::time::Instant::now() + grace;
    while alive.iter_mut().any(|g| g.is_alive()) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
    }
    for g in alive.iter_mut() {
        if g.is_alive() {
            g.kill_now();
        }
    }
    // SIGKILL is delivered promptly, but a process in uninterruptible sleep
    // (disk, NFS) ends a little later; give it a bounded wait.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while alive.iter_mut().any(|g| g.is_alive()) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
    }
    for g in alive.iter_mut() {
        g.ended = true;
    }
    for g in groups.iter_mut() {
        // Reap roots that have exited so no zombie of ours is left.
        let _ = g.child.try_wait();
        g.ended = true;
    }
}

/// The signal that cannot be ignored; a process ended by it was killed.
/// Windows has no signals: the number POSIX gives it, so a recorded value
/// reads the same.
#[cfg(unix)]
pub const SIGKILL: i32 = libc::SIGKILL;
#[cfg(windows)]
pub const SIGKILL: i32 = 9;

/// The signal that ended a process, when a signal did (never on Windows).
#[cfg(unix)]
pub fn exit_signal(status: &ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

#[cfg(windows)]
pub fn exit_signal(_status: &ExitStatus) -> Option<i32> {
    None
}

/// Whether starting a program failed because the file is still open for
/// writing somewhere (ETXTBSY: a script just written by another thread may
/// still be open in a child forked meanwhile). Windows reports no such
/// error.
#[cfg(unix)]
pub fn is_text_busy(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ETXTBSY)
}

#[cfg(windows)]
pub fn is_text_busy(_e: &io::Error) -> bool {
    false
}

#[cfg(unix)]
mod unix {
    /// Sends `signal` to every process of the group. A group with no member
    /// left answers ESRCH, which is the outcome we wanted anyway.
    pub(super) fn signal_group(pgid: i32, signal: i32) {
        // SAFETY: kill(2) has no memory-safety preconditions; a negative pid
        // addresses the process group.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }

    /// Linux: scan /proc for a member that is not a zombie. Orphaned members
    /// are reaped by PID 1, which in containers may take seconds; a zombie
    /// still answers `kill(-pgid, 0)`, so that test would wait for nothing.
    #[cfg(target_os = "linux")]
    pub(super) fn group_alive(pgid: i32) -> bool {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return signal_zero(pgid);
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // Format: pid (comm) state ppid pgrp …; comm may hold spaces
            // and parentheses, so parse from the last ')'.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            let mut fields = rest.split_whitespace();
            let state = fields.next();
            let pgrp = fields.nth(1).and_then(|p| p.parse::<i32>().ok());
            if pgrp == Some(pgid) && !matches!(state, Some("Z") | Some("X")) {
                return true;
            }
        }
        false
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn group_alive(pgid: i32) -> bool {
        signal_zero(pgid)
    }

    fn signal_zero(pgid: i32) -> bool {
        // SAFETY: as above; signal 0 only checks for existence.
        unsafe { libc::kill(-pgid, 0) == 0 }
    }
}

#[cfg(windows)]
mod windows {
    use std::io;

    use tokio::process::Child;
    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
    use windows_sys::Win32::System::JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JobObjectBasicAccountingInformation,
        JobObjectExtendedLimitInformation, QueryInformationJobObject, SetInformationJobObject,
        TerminateJobObject, JOBOBJECT_BASIC_ACCOUNTING_INFORMATION,
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    };

    pub(super) const CREATE_NEW_PROCESS_GROUP: u32 =
        windows_sys::Win32::System::Threading::CREATE_NEW_PROCESS_GROUP;

    /// A Job Object that kills its processes when its last handle closes, so
    /// even a crash of Slipway ends the build's processes.
    #[derive(Debug)]
    pub(super) struct Job(HANDLE);

    // SAFETY: a job handle may be used from any thread.
    unsafe impl Send for Job {}
    unsafe impl Sync for Job {}

    impl Job {
        pub(super) fn for_child(child: &Child) -> io::Result<Job> {
            let handle = child
                .raw_handle()
                .ok_or_else(|| io::Error::other("the child has already exited"))?;
            // SAFETY: plain Win32 calls on handles we own; the structure is
            // zero-initialised as the API expects.
            unsafe {
                let job = CreateJobObjectW(std::ptr::null(), std::ptr::null());
                if job.is_null() {
                    return Err(io::Error::last_os_error());
                }
                let job = Job(job);
                let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = std::mem::zeroed();
                info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
                if SetInformationJobObject(
                    job.0,
                    JobObjectExtendedLimitInformation,
                    &info as *const _ as *const _,
                    std::mem::size_of_val(&info) as u32,
                ) == 0
                {
                    return Err(io::Error::last_os_error());
                }
                // Children the command starts from now on join the job too.
                if AssignProcessToJobObject(job.0, handle as HANDLE) == 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(job)
            }
        }

        pub(super) fn has_processes(&self) -> bool {
            // SAFETY: as above.
            unsafe {
                let mut info: JOBOBJECT_BASIC_ACCOUNTING_INFORMATION = std::mem::zeroed();
                QueryInformationJobObject(
                    self.0,
                    JobObjectBasicAccountingInformation,
                    &mut info as *mut _ as *mut _,
                    std::mem::size_of_val(&info) as u32,
                    std::ptr::null_mut(),
                ) != 0
                    && info.ActiveProcesses > 0
            }
        }

        pub(super) fn terminate(&self) {
            // SAFETY: as above.
            unsafe {
                TerminateJobObject(self.0, 1);
            }
        }
    }

    impl Drop for Job {
        fn drop(&mut self) {
            // SAFETY: we own the handle; closing it kills remaining members
            // (JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE).
            unsafe {
                CloseHandle(self.0);
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stop_reaches_a_background_child_that_ignores_sigterm() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("trap '' TERM; sleep 30 & echo $! ; wait")
            .stdout(std::process::Stdio::piped());
        let mut group = spawn_group(&mut cmd).unwrap();
        let mut out = group.child_mut().stdout.take().unwrap();
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        use tokio::io::AsyncReadExt;
        while out.read(&mut byte).await.unwrap() == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        let bg: u32 = String::from_utf8(line).unwrap().trim().parse().unwrap();
        assert!(group.is_alive());
        group.stop(Duration::from_millis(200)).await;
        assert!(!group.is_alive());
        let state = std::fs::read_to_string(format!("/proc/{bg}/stat")).unwrap_or_default();
        assert!(
            state.is_empty() || state.contains(") Z"),
            "background child still runs: {state}"
        );
    }
}
