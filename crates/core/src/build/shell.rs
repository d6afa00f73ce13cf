//! The shells a build's commands run in.
//!
//! Buildspec 0.2 runs every command of a build in ONE shell instance, so
//! `cd`, `export` and plain shell variables carry over from one command and
//! phase to the next; 0.1 gives every command a fresh shell. Both are one
//! mechanism here: a long-lived `bash`/`sh` running a small loop that reads
//! a command number on its stdin, sources that command's script file with
//! stdin from /dev/null, and writes "command N exited with C" into the
//! output pipe as an in-band record (see [`super::log`]). Sourcing gives
//! AWS's rule for block commands for free: a script's status is its last
//! line's, unless it says `set -e`.
//!
//! This module owns spawning shells (each the root of its own process
//! group), feeding them commands and ending them. It must never interpret
//! output or decide phase outcomes; and it must never leave a process
//! running once [`Session::close`] has returned.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStdin, Command};

use crate::platform::process::{spawn_group, stop_all, ProcessGroup};

use super::log::Capture;
use super::Interrupt;

/// Which shell runs the commands.
#[derive(Debug, Clone)]
pub(crate) struct ShellProgram {
    pub path: PathBuf,
}

/// Picks the shell for `env.shell` (bash unless the buildspec asks for sh;
/// sh when bash is not installed).
pub(crate) fn pick(
    requested: Option<&str>,
    path_var: Option<&str>,
) -> Result<ShellProgram, String> {
    let find = |name: &str| {
        path_var
            .unwrap_or("/usr/bin:/bin")
            .split(':')
            .map(|dir| Path::new(dir).join(name))
            .find(|p| p.is_file())
    };
    let sh = || ShellProgram {
        path: PathBuf::from("/bin/sh"),
    };
    match requested {
        None => Ok(find("bash")
            .map(|path| ShellProgram { path })
            .unwrap_or_else(sh)),
        Some("bash") => find("bash")
            .map(|path| ShellProgram { path })
            .ok_or_else(|| "env.shell is bash, but bash is not installed on this machine".into()),
        Some("sh") | Some("/bin/sh") => Ok(sh()),
        Some(other) => Err(format!(
            "env.shell {other} is a Windows shell; this machine runs bash or /bin/sh"
        )),
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ran {
    Exited(i32),
    /// A stop request or the build's timeout cut it short.
    Interrupted,
}

struct Shell {
    group: ProcessGroup,
    stdin: ChildStdin,
}

/// All shells of one build.
pub(crate) struct Session {
    program: ShellProgram,
    env: BTreeMap<String, String>,
    cwd: PathBuf,
    scratch: PathBuf,
    nonce: String,
    one_shell: bool,
    grace: Duration,
    current: Option<Shell>,
    /// Shells that ended their loop (0.1 commands, or a 0.2 shell replaced
    /// after `exit`), kept until the end: their background processes belong
    /// to the build and end with it.
    retired: Vec<ProcessGroup>,
    seq: u64,
}

impl Session {
    pub fn new(
        program: ShellProgram,
        env: BTreeMap<String, String>,
        cwd: PathBuf,
        scratch: PathBuf,
        nonce: String,
        one_shell: bool,
        grace: Duration,
    ) -> Session {
        Session {
            program,
            env,
            cwd,
            scratch,
            nonce,
            one_shell,
            grace,
            current: None,
            retired: Vec::new(),
            seq: 0,
        }
    }

    /// Runs one command (its text exactly as the buildspec has it).
    pub async fn run(
        &mut self,
        text: &str,
        capture: &mut Capture,
        interrupt: &mut Interrupt,
    ) -> Ran {
        self.seq += 1;
        let seq = self.seq;
        let script = self.scratch.join(format!("{seq}.sh"));
        let mut body = text.to_string();
        body.push('\n');
        if let Err(e) = std::fs::write(&script, body) {
            capture.line(&format!("Could not write the command's script: {e}"));
            return Ran::Exited(127);
        }
        if self.current.is_none() {
            match self.spawn(capture) {
                Ok(shell) => self.current = Some(shell),
                Err(e) => {
                    capture.line(&format!(
                        "Could not start {}: {e}",
                        self.program.path.display()
                    ));
                    return Ran::Exited(127);
                }
            }
        }
        let shell = self.current.as_mut().expect("shell just started");
        if shell
            .stdin
            .write_all(format!("{seq}\n").as_bytes())
            .await
            .is_err()
        {
            // The shell is gone; its exit is picked up below.
        }
        let ran = loop {
            tokio::select! {
                exit = capture.exits.recv() => match exit {
                    Some(e) if e.seq == seq => break Ran::Exited(e.code),
                    Some(_) => continue,
                    None => break Ran::Exited(127),
                },
                status = shell.group.wait() => {
                    // The shell itself ended (`exit`, `set -e`, a signal):
                    // that is the command's result, and the next command
                    // needs a new shell.
                    let code = status.ok().map_or(127, exit_code);
                    let old = self.current.take().expect("current shell");
                    self.retired.push(old.group);
                    break Ran::Exited(code);
                }
                () = interrupt.wait() => break Ran::Interrupted,
            }
        };
        let _ = std::fs::remove_file(&script);
        if !self.one_shell {
            self.retire_current();
        }
        ran
    }

    /// Sets a variable for every later command: in the live 0.2 shell (an
    /// unlogged internal command) and for shells started later.
    pub async fn set_var(
        &mut self,
        name: &str,
        value: &str,
        capture: &mut Capture,
        interrupt: &mut Interrupt,
    ) {
        self.env.insert(name.to_string(), value.to_string());
        if self.one_shell && self.current.is_some() {
            let quoted = value.replace('\'', r"'\''");
            let _ = self
                .run(
                    &format!("{name}='{quoted}'; export {name}"),
                    capture,
                    interrupt,
                )
                .await;
        }
    }

    /// The values of `names` as the build ends: from the 0.2 shell, or from
    /// the build's environment for 0.1 (where no shell outlives a command).
    /// Unset names are left out.
    pub async fn read_vars(
        &mut self,
        names: &[String],
        capture: &mut Capture,
        interrupt: &mut Interrupt,
    ) -> BTreeMap<String, String> {
        let names: Vec<&String> = names
            .iter()
            .filter(|n| super::env::is_identifier(n))
            .collect();
        if !self.one_shell || self.current.is_none() {
            return names
                .into_iter()
                .filter_map(|n| self.env.get(n).map(|v| (n.clone(), v.clone())))
                .collect();
        }
        let dir = shell_quote(&self.scratch.to_string_lossy());
        let mut script = String::new();
        for n in &names {
            script.push_str(&format!(
                "if [ \"${{{n}+set}}\" = set ]; then printf '%s' \"${n}\" > {dir}/var.{n}; fi\n"
            ));
        }
        script.push_str("true");
        if self.run(&script, capture, interrupt).await == Ran::Interrupted {
            return BTreeMap::new();
        }
        names
            .into_iter()
            .filter_map(|n| {
                let path = self.scratch.join(format!("var.{n}"));
                let value = std::fs::read(&path).ok()?;
                let _ = std::fs::remove_file(&path);
                Some((n.clone(), String::from_utf8_lossy(&value).into_owned()))
            })
            .collect()
    }

    /// Ends every shell and every process they started: the live shell is
    /// asked to leave its loop, then each group gets SIGTERM, and SIGKILL
    /// after the grace period. `immediately` skips the wait for a shell to
    /// leave its loop (stop and timeout).
    pub async fn close(&mut self, immediately: bool) {
        if let Some(shell) = self.current.take() {
            let Shell { mut group, stdin } = shell;
            drop(stdin);
            if !immediately {
                // An idle shell leaves its loop at once on end of input.
                let _ = tokio::time::timeout(Duration::from_millis(500), group.wait()).await;
            }
            self.retired.push(group);
        }
        stop_all(&mut self.retired, self.grace).await;
        self.retired.clear();
    }

    fn retire_current(&mut self) {
        if let Some(Shell { group, stdin }) = self.current.take() {
            drop(stdin);
            self.retired.push(group);
        }
    }

    fn spawn(&self, capture: &Capture) -> std::io::Result<Shell> {
        let dir = shell_quote(&self.scratch.to_string_lossy());
        // `read` gets the command number; the command's own stdin is
        // /dev/null; `$?` after `.` is the script's status.
        let bootstrap = format!(
            "while IFS= read -r __slipway_n; do . {dir}/\"$__slipway_n\".sh </dev/null; \
             printf '\\036{nonce}:rc:%s:%s\\n' \"$__slipway_n\" \"$?\"; done",
            nonce = self.nonce
        );
        let mut cmd = Command::new(&self.program.path);
        cmd.arg("-c")
            .arg(bootstrap)
            .env_clear()
            .envs(&self.env)
            .current_dir(&self.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(capture.output()?))
            .stderr(Stdio::from(capture.output()?));
        let mut group = spawn_group(&mut cmd)?;
        // Dropping `cmd` closes our copies of the pipe's writing end, so the
        // log sees end-of-file once the build's processes are gone.
        drop(cmd);
        let stdin = group
            .child_mut()
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("the shell has no stdin"))?;
        Ok(Shell { group, stdin })
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    if let Some(signal) = crate::platform::process::exit_signal(&status) {
        return 128 + signal;
    }
    1
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
