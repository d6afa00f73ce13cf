//! Fixtures for the CLI's end-to-end tests: a data directory, a real git
//! repository with given files, and the real `slipway` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        World {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn slipway(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_slipway"));
        cmd.env("SLIPWAY_HOME", self.data());
        cmd.env("SLIPWAY_LOG", "warn");
        cmd
    }

    /// Runs slipway with `args`; returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.slipway().args(args).output().unwrap()
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.slipway()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// `slipway … --json`, parsed; panics with stderr when it fails.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "slipway {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// A git repository `name` with `files`, committed, added and trusted.
    pub fn repo(&self, name: &str, files: &[(&str, &str)]) -> Repo {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        git(&path, &["init", "-q", "-b", "main"]);
        let repo = Repo { path };
        repo.commit(files, "initial");
        let out = self.run(&["repo", "add", repo.path.to_str().unwrap(), "--trust"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        repo
    }

    /// Polls `what` until it holds: for waiting on another process.
    pub fn wait_until(&self, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The newest execution's id.
    pub fn latest_execution(&self) -> Option<String> {
        let list = self.json(&["executions", "--json"]);
        list[0]["id"].as_str().map(str::to_string)
    }
}

pub struct Repo {
    pub path: PathBuf,
}

impl Repo {
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (name, content) in files {
            let full = self.path.join(name);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, content).unwrap();
        }
        git(&self.path, &["add", "-A"]);
        git(
            &self.path,
            &[
                "-c",
                "user.name=Release Manager",
                "-c",
                "user.email=rm@example.com",
                "commit",
                "-q",
                "-m",
                message,
            ],
        );
        let out = Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(&self.path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether a process with this pid exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}
