//! Fixtures for the watcher's tests: real git repositories driven by the git
//! CLI (as the user would), a real SQLite data directory, a hosted engine
//! and a started watcher, and waits on conditions (never on a clock).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use slipway_core::api::{Event, SystemClock};
use slipway_core::engine::{HostedEngine, Status};
use slipway_core::store::{ExecutionSummary, Store};
use slipway_core::watch::{WatchEvent, WatchHandle, Watcher};
use tokio::sync::broadcast;

/// How long a condition may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A pipeline that runs one short command; `triggers` is YAML for the
/// `triggers:` key, `extra` more top-level keys.
pub fn pipeline(triggers: &str, extra: &str, command: &str) -> String {
    format!(
        "version: 1\n{extra}triggers:\n{triggers}\nstages:\n  - name: Build\n    actions:\n      - name: run\n        type: command\n        commands: [{command:?}]\n"
    )
}

pub struct Git {
    pub path: PathBuf,
}

impl Git {
    /// `git init -b main` with `files` committed.
    pub fn init(path: &Path, files: &[(&str, &str)]) -> Git {
        std::fs::create_dir_all(path).unwrap();
        let git = Git {
            path: path.to_path_buf(),
        };
        git.run(&["init", "-q", "-b", "main"]);
        git.commit(files, "initial");
        git
    }

    /// Runs git; returns its trimmed stdout, panics with stderr on failure.
    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=Release Manager",
                "-c",
                "user.email=rm@example.com",
                "-c",
                "gc.auto=0",
            ])
            .args(args)
            .current_dir(&self.path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Writes `files` and commits everything; returns the commit id.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (name, content) in files {
            let full = self.path.join(name);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, content).unwrap();
        }
        self.run(&["add", "-A"]);
        self.run(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        self.run(&["rev-parse", "HEAD"])
    }
}

/// A data directory with a hosted engine and, once started, a watcher.
pub struct World {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub store: Arc<Store>,
    pub engine: Arc<slipway_core::engine::Engine>,
    pub events: broadcast::Sender<Event>,
    pub watch: Option<WatchHandle>,
    pub watch_events: Option<broadcast::Receiver<WatchEvent>>,
}

impl World {
    /// Must run inside a tokio runtime (the engine serves on it).
    pub fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let store = Arc::new(Store::open(&data.join("slipway.db")).unwrap());
        let (events, _) = broadcast::channel(4096);
        let hosted = HostedEngine::start(
            store.clone(),
            &data,
            Arc::new(SystemClock),
            events.clone(),
            4,
        )
        .unwrap()
        .expect("no other engine on a fresh data dir");
        let engine = hosted.engine.clone();
        tokio::spawn(hosted.serve());
        World {
            dir,
            data,
            store,
            engine,
            events,
            watch: None,
            watch_events: None,
        }
    }

    /// A git repository `name` (beside the data dir), added and trusted.
    pub fn repo(&self, name: &str, files: &[(&str, &str)]) -> Git {
        let git = Git::init(&self.dir.path().join(name), files);
        self.add(&git, true);
        git
    }

    /// Adds a repository as `repo add` does: record, then poke the engine.
    pub fn add(&self, git: &Git, trusted: bool) {
        slipway_core::repos::add(&self.store, &git.path, None, trusted, 1).unwrap();
        slipway_core::engine::wake::poke(&self.data, slipway_core::engine::wake::REPOSITORIES)
            .unwrap();
    }

    /// Starts the watcher; returns once every watch is open.
    pub async fn watch(&mut self) {
        let watcher = Watcher::new(
            self.engine.clone(),
            self.store.clone(),
            Arc::new(SystemClock),
            &self.data,
        );
        self.watch_events = Some(watcher.subscribe());
        self.watch = Some(watcher.start().await.unwrap());
    }

    /// Waits for a watch event that `pick` accepts.
    pub async fn watch_event(&mut self, what: &str, mut pick: impl FnMut(&WatchEvent) -> bool) {
        let rx = self.watch_events.as_mut().expect("watching");
        let found = tokio::time::timeout(PATIENCE, async {
            loop {
                match rx.recv().await {
                    Ok(event) if pick(&event) => return,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(e) => panic!("watch events ended: {e}"),
                }
            }
        })
        .await;
        assert!(found.is_ok(), "timed out waiting for {what}");
    }

    /// Every execution, oldest first.
    pub fn executions(&self) -> Vec<ExecutionSummary> {
        let mut all = self.store.executions(None, None, 10_000).unwrap();
        all.reverse();
        all
    }

    /// Waits (on the engine's events) until `check` holds for the
    /// executions.
    pub async fn until(&self, what: &str, mut check: impl FnMut(&[ExecutionSummary]) -> bool) {
        let mut rx = self.events.subscribe();
        let result = tokio::time::timeout(PATIENCE, async {
            loop {
                if check(&self.executions()) {
                    return;
                }
                let _ = rx.recv().await;
            }
        })
        .await;
        assert!(
            result.is_ok(),
            "timed out waiting for {what}; executions: {:#?}",
            self.executions()
        );
    }

    /// Waits until every execution has a final status.
    pub async fn settled(&self) {
        self.until("every execution to end", |all| {
            all.iter().all(|e| e.status.is_final())
        })
        .await;
    }
}

/// `(revision, trigger, status)` of each execution, oldest first.
pub fn summary(all: &[ExecutionSummary]) -> Vec<(String, String, Status)> {
    all.iter()
        .map(|e| (e.revision.clone(), e.trigger.to_string(), e.status))
        .collect()
}
