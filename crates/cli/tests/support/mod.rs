//! Fixtures for the CLI's end-to-end tests: a data directory, a real git
//! repository with given files, and the real `slipway` binary.

#![allow(dead_code)]

pub mod aws;
pub mod cbor_bridge;
pub mod deploy;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct World {
    pub dir: tempfile::TempDir,
    /// Variables every `slipway` this world starts gets (none by default),
    /// e.g. `AWS_ENDPOINT_URL` for an engine that talks to moto.
    pub env: Vec<(String, String)>,
}

impl World {
    pub fn new() -> World {
        World {
            dir: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    /// A world whose `slipway` processes all get `vars`.
    pub fn with_env(vars: &[(&str, &str)]) -> World {
        let mut world = World::new();
        world.env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        world
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn slipway(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_slipway"));
        cmd.env("SLIPWAY_HOME", self.data());
        cmd.env("SLIPWAY_LOG", "warn");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
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

    /// Waits until the newest execution's action workspace `slug` (e.g.
    /// `0-compile`: stage index and action name) holds `file`, which its
    /// build writes once started; returns that execution's id.
    pub fn wait_for_action_file(&self, slug: &str, file: &str) -> String {
        let data = self.data();
        let mut found = None;
        self.wait_until(&format!("{slug} to write {file}"), || {
            found = self.latest_execution().filter(|id| {
                data.join("executions")
                    .join(id)
                    .join("actions")
                    .join(slug)
                    .join("src")
                    .join(file)
                    .exists()
            });
            found.is_some()
        });
        found.unwrap()
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

/// For `tests/creds.rs` and `tests/cloudwatch_alarms.rs`: a moto server
/// (STS, CloudWatch, …) on a free port, from the
/// project's `.venv` (installed by `make test`), killed when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    pub fn start() -> Moto {
        let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
        assert!(
            bin.exists(),
            "{} is missing: run `make test` once (it installs moto into .venv)",
            bin.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails with what to do when the test keychain is not running.
/// `slipway watch` in `world`, once it says it is ready to serve: the
/// process and its stdout, read for as long as it runs (a closed pipe would
/// end it at its next line).
pub fn start_watch(world: &World) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = world
        .slipway()
        .arg("watch")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = stdout_lines(&mut child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("slipway watch said it is ready");
        if line.starts_with("ready") {
            break;
        }
    }
    (child, lines)
}

pub fn require_keyring() {
    assert!(
        std::env::var("SLIPWAY_TEST_KEYRING").as_deref() == Ok("1"),
        "the credentials tests need a Secret Service keychain: run them as \
         `tests/with-keyring.sh cargo test …` (make test does)"
    );
}

/// Runs slipway with `stdin` piped in.
pub fn run_with_stdin(mut cmd: Command, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The lines a spawned process prints on stdout, as they come (read on a
/// thread, so a test can wait for one without blocking on the pipe).
pub fn stdout_lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("spawned with piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for the next JSON line that `pick` accepts; returns it.
pub fn next_json(
    lines: &std::sync::mpsc::Receiver<String>,
    what: &str,
    mut pick: impl FnMut(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
        let value: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        if pick(&value) {
            return value;
        }
    }
}
