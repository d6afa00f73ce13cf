//! The repository watcher: one task on the engine's tokio runtime that
//! turns OS file events on every trusted repository's git directory into
//! executions.
//!
//! How a commit becomes an execution: git renames `refs/heads/main.lock`
//! onto `refs/heads/main` → inotify/FSEvents/ReadDirectoryChangesW (one
//! notify watcher, see [`super::fs`]) → the event is routed to its
//! repository → after [`QUIET`] without further events the repository's
//! heads are read with git2 and compared with the heads recorded in the
//! store → each moved ref's commits are matched against the pipeline files
//! *at that commit* → [`Engine::start_run`], in commit order, so the engine's
//! execution modes see them in the order they were made.
//!
//! What it must never do: poll (an idle engine wakes for nothing: the
//! debounce timer exists only while events are pending, and the schedule
//! timer sleeps until the next cron fire), build a commit twice (heads are
//! recorded after their executions are created), treat a missing repository
//! as an error to retry (it is marked missing and its nearest existing
//! folder is watched for its return), or write to a repository.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::RecursiveMode;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

use super::fs::Watches;
use super::schedule::Schedules;
use super::{WatchError, WatchEvent};
use crate::clock::Clock;
use crate::model::RunRequest;
use crate::store::{Repository, Store, StoreError};

mod runs;

/// How long a repository must be quiet before its heads are read: a commit
/// is a few file events within a millisecond (lock, write, rename), a `git
/// gc` or a rebase a few hundred. Short, because it is trigger latency.
pub const QUIET: Duration = Duration::from_millis(10);
/// A repository that never goes quiet (a long rebase) is still read this
/// often, so triggers are not starved.
pub const MAX_DELAY: Duration = Duration::from_millis(250);

/// The engine's wake folder (see [`crate::wake`]): `repo add`,
/// `remove` and `trust` poke [`crate::wake::REPOSITORIES`] in it.
const WAKE_DIR: &str = "wake";

/// Whoever runs what the watcher triggers (the engine): it hands each run
/// request out and is told the execution's id, or why none started.
pub trait StartRuns: Send + Sync {
    fn start_run(self: Arc<Self>, request: &RunRequest) -> Result<String, String>;
}

/// A watcher, configured but not started: subscribe first to see the
/// events of the first look at every repository.
pub struct Watcher {
    engine: Arc<dyn StartRuns>,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    data_dir: PathBuf,
    events: broadcast::Sender<WatchEvent>,
}

/// A running watcher. Dropping it stops watching too; [`WatchHandle::stop`]
/// also waits for the watcher to end.
pub struct WatchHandle {
    commands: mpsc::UnboundedSender<Command>,
    events: broadcast::Sender<WatchEvent>,
    task: tokio::task::JoinHandle<()>,
}

enum Command {
    Refresh,
    Stop(oneshot::Sender<()>),
}

impl Watcher {
    pub fn new(
        engine: Arc<dyn StartRuns>,
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        data_dir: &Path,
    ) -> Watcher {
        let (events, _) = broadcast::channel(1024);
        Watcher {
            engine,
            store,
            clock,
            data_dir: data_dir.to_path_buf(),
            events,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<WatchEvent> {
        self.events.subscribe()
    }

    /// Opens a watch on every trusted repository (and on the wake folder,
    /// for repositories added later), builds what moved while no engine
    /// watched, then watches on the current tokio runtime.
    pub async fn start(self) -> Result<WatchHandle, WatchError> {
        let (fs, fs_events) = Watches::new()?;
        let wake_dir = self.data_dir.join(WAKE_DIR);
        std::fs::create_dir_all(&wake_dir).map_err(|source| WatchError::WakeDir {
            path: wake_dir.clone(),
            source,
        })?;
        let mut state = State {
            engine: self.engine,
            store: self.store,
            clock: self.clock,
            events: self.events.clone(),
            fs,
            wake_dir,
            repos: BTreeMap::new(),
            schedules: Schedules::default(),
        };
        state.fs.add(&state.wake_dir, RecursiveMode::NonRecursive)?;
        state.reconcile()?;
        let (commands, command_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(state.run(fs_events, command_rx));
        Ok(WatchHandle {
            commands,
            events: self.events,
            task,
        })
    }
}

impl WatchHandle {
    pub fn subscribe(&self) -> broadcast::Receiver<WatchEvent> {
        self.events.subscribe()
    }

    /// Re-reads the repository list now (the wake poke does the same from
    /// another process).
    pub fn refresh(&self) {
        let _ = self.commands.send(Command::Refresh);
    }

    /// Stops watching and waits until the watcher has ended. Executions it
    /// started keep running in the engine.
    pub async fn stop(self) {
        let (done, ended) = oneshot::channel();
        if self.commands.send(Command::Stop(done)).is_ok() {
            let _ = ended.await;
        }
        let _ = self.task.await;
    }
}

/// The git directories of a repository that is there.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GitDirs {
    /// `.git`, or `<common>/worktrees/<name>` for a linked worktree: HEAD.
    git: PathBuf,
    /// Where refs and packed-refs live (the same as `git` unless linked).
    common: PathBuf,
    refs: PathBuf,
}

impl GitDirs {
    fn of(repo: &git2::Repository) -> GitDirs {
        let clean = |p: &Path| p.components().collect::<PathBuf>();
        let common = clean(repo.commondir());
        GitDirs {
            git: clean(repo.path()),
            refs: common.join("refs"),
            common,
        }
    }

    fn paths(&self) -> Vec<(&Path, RecursiveMode)> {
        let mut out = vec![(self.git.as_path(), RecursiveMode::NonRecursive)];
        if self.common != self.git {
            out.push((self.common.as_path(), RecursiveMode::NonRecursive));
        }
        out.push((self.refs.as_path(), RecursiveMode::Recursive));
        out
    }
}

struct Watched {
    record: Repository,
    workdir: PathBuf,
    /// `None` while missing (or not looked at yet).
    git: Option<GitDirs>,
    /// The folder watched for the repository's disappearance or return.
    anchor: Option<PathBuf>,
    missing: bool,
    announced: bool,
    /// The default branch commit the schedules were read at.
    schedules_at: Option<String>,
}

impl Watched {
    /// Whether an event on `path` concerns this repository: `Some(true)`
    /// when it may have replaced folders (the watches must be renewed).
    fn concerns(&self, path: &Path) -> Option<bool> {
        if self.workdir.starts_with(path) {
            return Some(true);
        }
        let Some(dirs) = &self.git else {
            return path.starts_with(&self.workdir).then_some(true);
        };
        if path.starts_with(&dirs.refs) {
            return Some(path == dirs.refs);
        }
        for dir in [&dirs.git, &dirs.common] {
            if path == dir.as_path() {
                return Some(true);
            }
            if path.parent() == Some(dir.as_path()) {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                // The index, logs, COMMIT_EDITMSG… change on every `git
                // status`; only HEAD and packed-refs say where refs point.
                if name == "HEAD" || name.starts_with("packed-refs") {
                    return Some(false);
                }
            }
        }
        None
    }
}

/// Events waiting for the quiet period to end.
#[derive(Default)]
struct Pending {
    repos: BTreeMap<String, bool>,
    reconcile: bool,
    everything: bool,
    first: Option<Instant>,
    last: Option<Instant>,
}

struct State {
    engine: Arc<dyn StartRuns>,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<WatchEvent>,
    fs: Watches,
    wake_dir: PathBuf,
    repos: BTreeMap<String, Watched>,
    schedules: Schedules,
}

impl State {
    fn emit(&self, event: WatchEvent) {
        tracing::debug!(?event, "watch");
        let _ = self.events.send(event);
    }

    async fn run(
        mut self,
        mut fs_events: mpsc::UnboundedReceiver<Vec<PathBuf>>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        let mut pending = Pending::default();
        let mut stopped = None;
        loop {
            // Read once quiet, but never later than MAX_DELAY after the
            // first event.
            let flush_at = pending
                .first
                .zip(pending.last)
                .map(|(first, last)| (last + QUIET).min(first + MAX_DELAY));
            let schedule_at = self.schedules.next_due().map(|due| {
                let wait = (due - self.clock.local_now()).to_std().unwrap_or_default();
                Instant::now() + wait
            });
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Refresh) => {
                        pending.reconcile = true;
                        self.flush(std::mem::take(&mut pending));
                    }
                    Some(Command::Stop(done)) => {
                        stopped = Some(done);
                        break;
                    }
                    None => break,
                },
                Some(paths) = fs_events.recv() => {
                    self.route(paths, &mut pending);
                    // Drain what already arrived: one flush per burst.
                    while let Ok(paths) = fs_events.try_recv() {
                        self.route(paths, &mut pending);
                    }
                }
                _ = sleep_until(flush_at) => self.flush(std::mem::take(&mut pending)),
                _ = sleep_until(schedule_at) => self.fire_schedules(),
            }
        }
        if let Some(done) = stopped {
            let _ = done.send(());
        }
    }

    fn route(&self, paths: Vec<PathBuf>, pending: &mut Pending) {
        // The engine pokes the wake folder on every execution change: those
        // events must not postpone a pending read.
        let mut relevant = paths.is_empty();
        if paths.is_empty() {
            pending.everything = true;
        }
        for path in paths {
            if path.parent() == Some(self.wake_dir.as_path()) {
                if path.file_name().and_then(|n| n.to_str()) == Some(crate::wake::REPOSITORIES) {
                    pending.reconcile = true;
                    relevant = true;
                }
                continue;
            }
            for (name, watched) in &self.repos {
                if let Some(structural) = watched.concerns(&path) {
                    *pending.repos.entry(name.clone()).or_default() |= structural;
                    relevant = true;
                }
            }
        }
        if relevant {
            let now = Instant::now();
            pending.first.get_or_insert(now);
            pending.last = Some(now);
        }
    }

    fn flush(&mut self, pending: Pending) {
        if pending.reconcile || pending.everything {
            if let Err(err) = self.reconcile() {
                tracing::warn!(%err, "cannot re-read the repository list");
            }
        }
        let names: Vec<(String, bool)> = if pending.everything {
            self.repos.keys().map(|n| (n.clone(), true)).collect()
        } else {
            pending.repos.into_iter().collect()
        };
        for (name, structural) in names {
            self.scan(&name, structural);
        }
    }

    /// Follows the repository list: watches trusted repositories not yet
    /// watched, drops the others.
    fn reconcile(&mut self) -> Result<(), StoreError> {
        let wanted: BTreeMap<String, Repository> = self
            .store
            .repositories()?
            .into_iter()
            .filter(|r| r.trusted)
            .map(|r| (r.name.clone(), r))
            .collect();
        let gone: Vec<String> = self
            .repos
            .iter()
            .filter(|(name, w)| wanted.get(*name) != Some(&w.record))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            self.unwatch(&name);
            // Untrusted then trusted again starts from the heads of then:
            // what was committed meanwhile was never meant to run.
            self.store.forget_heads(&name)?;
        }
        for (name, record) in wanted {
            if self.repos.contains_key(&name) {
                continue;
            }
            let workdir = PathBuf::from(&record.path);
            self.repos.insert(
                name.clone(),
                Watched {
                    record,
                    workdir,
                    git: None,
                    anchor: None,
                    missing: false,
                    announced: false,
                    schedules_at: None,
                },
            );
            self.scan(&name, true);
        }
        Ok(())
    }

    fn unwatch(&mut self, name: &str) {
        let Some(w) = self.repos.remove(name) else {
            return;
        };
        for (path, _) in w.git.iter().flat_map(GitDirs::paths) {
            self.fs.remove(path);
        }
        if let Some(anchor) = &w.anchor {
            self.fs.remove(anchor);
        }
        self.schedules.remove(name);
        self.emit(WatchEvent::Unwatched {
            repository: name.to_string(),
        });
    }

    /// Looks at one repository: is it there, are its watches right, did its
    /// heads move.
    fn scan(&mut self, name: &str, renew: bool) {
        let Some(w) = self.repos.get_mut(name) else {
            return;
        };
        let opened = git2::Repository::open(&w.workdir);
        let mut announce = None;
        let repo = match opened {
            Err(_) => {
                for (path, _) in w.git.iter().flat_map(GitDirs::paths) {
                    self.fs.remove(path);
                }
                w.git = None;
                w.schedules_at = None;
                self.schedules.remove(name);
                if !w.missing {
                    w.missing = true;
                    w.announced = true;
                    announce = Some(WatchEvent::Missing {
                        repository: name.to_string(),
                        path: w.record.path.clone(),
                    });
                }
                None
            }
            Ok(repo) => {
                let dirs = GitDirs::of(&repo);
                if renew || w.git.as_ref() != Some(&dirs) {
                    for (path, _) in w.git.iter().flat_map(GitDirs::paths) {
                        self.fs.remove(path);
                    }
                    w.git = None;
                    match add_all(&mut self.fs, &dirs) {
                        Ok(()) => w.git = Some(dirs),
                        Err(err) => {
                            let error = format!("cannot watch its git directory: {err}");
                            self.emit(WatchEvent::Error {
                                repository: name.to_string(),
                                error,
                            });
                            return;
                        }
                    }
                }
                if w.missing || !w.announced {
                    announce = Some(WatchEvent::Watching {
                        repository: name.to_string(),
                        path: w.record.path.clone(),
                        again: w.missing,
                    });
                    w.missing = false;
                    w.announced = true;
                }
                Some(repo)
            }
        };
        // While there, the parent folder tells of a move or a deletion;
        // while missing, the nearest folder that exists tells of a return.
        let anchor = if repo.is_some() {
            w.workdir.parent().map(Path::to_path_buf)
        } else {
            std::iter::once(w.workdir.join(".git"))
                .chain(w.workdir.ancestors().map(Path::to_path_buf))
                .find(|p| p.is_dir())
        };
        if renew || anchor != w.anchor {
            if let Some(old) = w.anchor.take() {
                self.fs.remove(&old);
            }
            if let Some(new) = anchor {
                if self.fs.add(&new, RecursiveMode::NonRecursive).is_ok() {
                    w.anchor = Some(new);
                }
            }
        }
        if let Some(event) = announce {
            self.emit(event);
        }
        if let Some(repo) = repo {
            self.sync_heads(name, &repo);
        }
    }
}

/// Watches a repository's git directories, all or none.
fn add_all(fs: &mut Watches, dirs: &GitDirs) -> notify::Result<()> {
    let mut added = Vec::new();
    for (path, mode) in dirs.paths() {
        if let Err(err) = fs.add(path, mode) {
            for path in added {
                fs.remove(path);
            }
            return Err(err);
        }
        added.push(path);
    }
    Ok(())
}

/// Sleeps until `at`, or forever when there is nothing to wait for: no
/// timer exists while idle.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
