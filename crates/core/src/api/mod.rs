//! The command table and the event stream: the one surface the desktop shell
//! (Tauri IPC) and `slipway serve` (HTTP) both expose, so the UI is the same
//! code in both. Every command is declared once in [`command_table!`] below
//! with its request and response types; the dispatcher, the list of names and
//! the TypeScript bindings are all generated from that one declaration, so a
//! transport cannot forget a command and the UI's types cannot drift.
//!
//! This module must never know which transport called it.

mod bindings;
mod error;
mod logs;
mod pipelines;
mod profiles;
pub mod settings;
pub mod tray;
mod types;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::store::{Store, StoreError, DATABASE_FILE};

pub use crate::events::{Event, LogChunk, Notification, NotificationLevel, NotificationTarget};
pub use crate::model::{
    Deployment, DeploymentDetail, DeploymentEvent, DeploymentStatus, ExecutionDetail,
    ExecutionSummary, Initiator,
};
pub use bindings::typescript_bindings;
pub use error::{ApiError, ErrorCode};
pub use types::*;

pub use crate::clock::{Clock, Millis, SystemClock};
pub use crate::model::BUNDLE_IDENTIFIER;

/// Events not yet read by a slow listener are dropped past this many; the
/// listener is told it lagged rather than the engine blocking on it.
const EVENT_BUFFER: usize = 1024;

/// One running Slipway engine, shared by whichever transport hosts it.
pub struct Core {
    data_dir: PathBuf,
    store: Arc<Store>,
    host: crate::model::Host,
    clock: Arc<dyn Clock>,
    started_at: Millis,
    events: broadcast::Sender<Event>,
    /// Milliseconds from opening to the first `status` call: in the
    /// desktop app, how long the window took to show the UI and ask.
    first_status: std::sync::OnceLock<i64>,
    /// The engine this core hosts, once it does (what its environments
    /// serve is read from it).
    hosted: std::sync::OnceLock<std::sync::Weak<crate::engine::Engine>>,
    /// The engine this core started for its own requests because no process
    /// was the engine (a CLI command's), until [`Core::settle`].
    local: tokio::sync::Mutex<Option<crate::engine::LocalEngine>>,
    /// How many actions an engine this core starts may run at once.
    max_parallel: std::sync::atomic::AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Core {
    /// Opens (creating it if needed) the data directory and its database;
    /// the engine starts when the host asks ([`Core::run_engine`]) or, for
    /// a one-shot command, with its first request. `host` says which
    /// process opened it.
    pub fn open(
        data_dir: &Path,
        host: crate::model::Host,
        clock: Arc<dyn Clock>,
    ) -> Result<Core, OpenError> {
        std::fs::create_dir_all(data_dir).map_err(|source| OpenError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let store = Arc::new(Store::open(&data_dir.join(DATABASE_FILE))?);
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let started_at = clock.now();
        Ok(Core {
            data_dir: data_dir.to_path_buf(),
            store,
            host,
            clock,
            started_at,
            events,
            first_status: std::sync::OnceLock::new(),
            hosted: std::sync::OnceLock::new(),
            local: tokio::sync::Mutex::new(None),
            max_parallel: std::sync::atomic::AtomicUsize::new(crate::engine::default_max_parallel()),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Becomes the data directory's engine if no other process is, serving
    /// run requests (this process's and others'). `None`: another process is
    /// the engine, and this one's requests go to it.
    pub fn host_engine(&self) -> Result<Option<crate::engine::HostedEngine>, ApiError> {
        let hosted = crate::engine::HostedEngine::start(
            self.store.clone(),
            &self.data_dir,
            self.clock.clone(),
            self.events.clone(),
            self.max_parallel(),
        )?;
        if let Some(h) = &hosted {
            let _ = self.hosted.set(Arc::downgrade(&h.engine));
        }
        Ok(hosted)
    }

    /// How many actions an engine this core starts may run at once
    /// (default: the number of CPUs).
    pub fn set_max_parallel(&self, n: usize) {
        self.max_parallel
            .store(n.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    fn max_parallel(&self) -> usize {
        self.max_parallel.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Hands `request` to the data directory's engine and returns what it
    /// started. The one place that decides where a request goes: the
    /// engine this process hosts or another process's (through the
    /// database's mailbox), or, when no process is the engine, an engine
    /// this core starts for its own requests and keeps until
    /// [`Core::settle`].
    pub(crate) async fn submit(
        &self,
        request: crate::model::EngineRequest,
    ) -> Result<crate::model::Started, ApiError> {
        let mut local = self.local.lock().await;
        // Only a one-shot command carries requests out itself: the desktop app
        // and `serve` either are the engine or leave requests for the one that is.
        if local.is_none() && self.engine().is_none() && self.host == crate::model::Host::Cli {
            if let Some(hosted) = crate::engine::HostedEngine::start(
                self.store.clone(),
                &self.data_dir,
                self.clock.clone(),
                self.events.clone(),
                self.max_parallel(),
            )? {
                *local = Some(crate::engine::LocalEngine::new(hosted));
            }
        }
        if let Some(engine) = local.as_mut() {
            return Ok(engine.carry_out(&request, self.host)?);
        }
        drop(local);
        Ok(crate::engine::submit(
            &self.store,
            &self.data_dir,
            &request,
            self.host,
            self.clock.now(),
        )
        .await?)
    }

    /// Whether this core carries its requests out itself (no other process
    /// is the engine): what it started ends with [`Core::settle`].
    pub async fn runs_here(&self) -> bool {
        self.local.lock().await.is_some()
    }

    /// Waits for what this core carried out itself to end and stops the
    /// local environments it brought up; `None` when its requests went to
    /// a running engine.
    pub async fn settle(&self) -> Option<crate::engine::Settled> {
        let local = self.local.lock().await.take()?;
        Some(local.settle().await)
    }

    /// Runs one command of the table, typed:
    /// `core.command::<cmd::Rollback>(request)`.
    pub async fn command<C: Command>(&self, request: C::Request) -> Result<C::Response, ApiError> {
        C::handle(self, request).await
    }

    /// The engine this process hosts, while it runs.
    pub fn engine(&self) -> Option<Arc<crate::engine::Engine>> {
        self.hosted.get()?.upgrade()
    }

    /// The deployer that reads what environments serve: the hosted
    /// engine's (it knows the local environments it runs), else one made
    /// for the reading, which deploys nothing.
    pub(crate) fn deployer(&self) -> Arc<crate::deploy::Deployer> {
        match self.engine() {
            Some(e) => e.deployer.clone(),
            None => Arc::new(crate::deploy::Deployer::new(
                self.store.clone(),
                &self.data_dir,
                self.clock.clone(),
                self.events.clone(),
            )),
        }
    }

    /// What the desktop app and `slipway serve` run: become the engine
    /// (unless another process is), serve other processes' run requests, and
    /// watch every trusted repository for commits that trigger pipelines.
    /// Keep the returned value alive as long as the engine should run.
    /// `Ok(None)`: another process is the engine and does the watching.
    pub async fn run_engine(&self) -> Result<Option<RunningEngine>, ApiError> {
        let Some(hosted) = self.host_engine()? else {
            return Ok(None);
        };
        let engine = hosted.engine.clone();
        let requests = tokio::spawn(hosted.serve());
        let watcher = crate::watch::Watcher::new(
            engine.clone(),
            self.store.clone(),
            self.clock.clone(),
            &self.data_dir,
        );
        let watch = watcher.start().await.map_err(|e| {
            ApiError::new(ErrorCode::Io, format!("cannot watch the repositories: {e}"))
        })?;
        Ok(Some(RunningEngine {
            _watch: watch,
            requests,
            engine,
        }))
    }

    /// The sender side of the event stream, for an engine hosted with this core.
    pub fn event_sender(&self) -> broadcast::Sender<Event> {
        self.events.clone()
    }

    /// A new listener on the event stream; it sees events emitted from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Sends an event to every listener; returns how many there were.
    pub fn emit(&self, event: Event) -> u32 {
        self.events.send(event).map(|n| n as u32).unwrap_or(0)
    }

    /// Runs one command by name with a JSON request, as every transport does.
    pub async fn call(
        &self,
        command: &str,
        request: serde_json::Value,
    ) -> Result<serde_json::Value, ApiError> {
        dispatch(self, command, request).await
    }
}

/// The engine a process runs (see [`Core::run_engine`]); dropping it stops
/// the watching and the serving of requests.
pub struct RunningEngine {
    _watch: crate::watch::WatchHandle,
    requests: tokio::task::JoinHandle<()>,
    engine: Arc<crate::engine::Engine>,
}

impl RunningEngine {
    /// Stops the local environments this engine serves (their instances
    /// end politely); the next engine brings them back.
    pub async fn shut_down(&self) {
        self.engine.deployer.shut_down().await;
    }
}

impl Drop for RunningEngine {
    fn drop(&mut self) {
        self.requests.abort();
    }
}

/// One command of the table, for Rust callers that want it typed: the CLI,
/// the tray, tests. `core.command::<cmd::Rollback>(request)` runs the same
/// handler a transport's `core.call("rollback", json)` does.
pub trait Command {
    /// The command's name in the table (and on the wire).
    const NAME: &'static str;
    type Request: serde::de::DeserializeOwned + Send;
    type Response: serde::Serialize;
    fn handle(
        core: &Core,
        request: Self::Request,
    ) -> impl std::future::Future<Output = Result<Self::Response, ApiError>> + Send;
}

/// Declares the command table. Each line:
/// `name (Marker): Request => Response = handler;` where the handler is
/// `async fn(&Core, Request) -> Result<Response, ApiError>` and `Marker`
/// names the command for typed callers (`cmd::Marker`).
macro_rules! command_table {
    ($( $(#[doc = $doc:literal])* $name:ident ($marker:ident) : $req:ty => $resp:ty = $handler:path ; )*) => {
        /// Every command name, in declaration order.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        /// The commands by type, for [`Core::command`].
        pub mod cmd {
            $(
                $(#[doc = $doc])*
                #[derive(Debug, Clone, Copy)]
                pub struct $marker;
            )*
        }

        $(
            impl Command for cmd::$marker {
                const NAME: &'static str = stringify!($name);
                type Request = $req;
                type Response = $resp;
                fn handle(
                    core: &Core,
                    request: $req,
                ) -> impl std::future::Future<Output = Result<$resp, ApiError>> + Send {
                    $handler(core, request)
                }
            }
        )*

        async fn dispatch(
            core: &Core,
            command: &str,
            request: serde_json::Value,
        ) -> Result<serde_json::Value, ApiError> {
            match command {
                $(stringify!($name) => {
                    let request: $req = parse_request(command, request)?;
                    let response: $resp = <cmd::$marker as Command>::handle(core, request).await?;
                    serde_json::to_value(response).map_err(ApiError::internal)
                })*
                other => Err(ApiError::unknown_command(other)),
            }
        }

        /// `[(name, request type, response type, doc)]` for the bindings.
        fn command_signatures(cfg: &ts_rs::Config) -> Vec<(&'static str, String, String, String)> {
            use ts_rs::TS;
            vec![$((
                stringify!($name),
                <$req as TS>::name(cfg),
                <$resp as TS>::name(cfg),
                [$($doc),*].join("\n"),
            )),*]
        }

        /// Declares every type the table mentions, and what they mention.
        fn visit_command_types(visitor: &mut impl ts_rs::TypeVisitor) {
            $(visitor.visit::<$req>(); visitor.visit::<$resp>();)*
        }
    };
}

command_table! {
    /// The engine's name and version.
    version (Version): VersionRequest => VersionResponse = commands::version;
    /// What this engine is and where it keeps its data.
    status (Status): StatusRequest => StatusResponse = commands::status;
    /// Sends a notification to every listener (tray, windows, browser tabs).
    notify (Notify): NotifyRequest => NotifyResponse = commands::notify;
    /// Adds a local git repository (untrusted unless `trust`).
    repo_add (RepoAdd): RepoAddRequest => RepositoryInfo = commands::repo_add;
    /// Every added repository, with whether it is missing.
    repo_list (RepoList): RepoListRequest => RepoListResponse = commands::repo_list;
    /// Forgets a repository (its files are not touched).
    repo_remove (RepoRemove): RepoNameRequest => RepositoryInfo = commands::repo_remove;
    /// Trusts a repository, so its pipelines may run (or withdraws trust).
    repo_trust (RepoTrust): RepoTrustRequest => RepositoryInfo = commands::repo_trust;
    /// Executions, newest first, optionally of one pipeline.
    executions (Executions): ExecutionsRequest => ExecutionsResponse = commands::executions;
    /// One execution with its stages, actions, variables and artifacts.
    execution (Execution): ExecutionRequest => ExecutionDetail = commands::execution;
    /// Approves a waiting approval action.
    approve (Approve): DecisionRequest => DecisionResponse = commands::approve;
    /// Rejects a waiting approval action (its stage fails).
    reject (Reject): DecisionRequest => DecisionResponse = commands::reject;
    /// Stops an execution: running actions finish, or with `abandon` end now.
    stop (Stop): StopRequest => ExecutionRequest = commands::stop;
    /// Starts a pipeline ("Release change") in the running engine.
    run (Run): RunPipelineRequest => ExecutionRequest = commands::run;
    /// Retries a failed execution's failed actions in the running engine.
    retry (Retry): ExecutionRequest => ExecutionRequest = commands::retry;
    /// Deployments, newest first, optionally of one environment or pipeline.
    deployments (Deployments): DeploymentsRequest => DeploymentsResponse = commands::deployments;
    /// One deployment with its per-instance lifecycle events.
    deployment (Deployment): DeploymentRequest => DeploymentDetail = commands::deployment;
    /// Every environment deployed to: what it serves and what a rollback restores.
    environments (Environments): EnvironmentsRequest => EnvironmentsResponse = commands::environments;
    /// Rolls an environment back (a new deployment of an earlier revision) in the running engine.
    rollback (Rollback): RollbackRequest => DeploymentRequest = commands::rollback;
    /// Creates the demo repository (a small web service and its release pipeline), trusted.
    demo (Demo): DemoRequest => RepositoryInfo = commands::demo;
    /// What the tray shows: the overall state and the menu's entries.
    tray_menu (TrayMenu): TrayMenuRequest => tray::TrayMenu = commands::tray_menu;
    /// The person's settings (success notifications, watching paused), changing those given.
    settings (Settings): settings::SettingsRequest => settings::Settings = settings::settings;
    /// Every pipeline of every repository (its file at HEAD) with its latest
    /// execution's stage strip; invalid files and unreadable repositories as problems.
    pipelines (Pipelines): PipelinesRequest => PipelinesResponse = pipelines::pipelines;
    /// A page of one action's log: the tail, forward from an offset, or backwards before one.
    action_log (ActionLog): ActionLogRequest => ActionLogResponse = logs::action_log;
    /// Credential profiles: metadata, role chains and session expiries, never secrets.
    profiles (Profiles): ProfilesRequest => ProfilesResponse = profiles::profiles;
    /// Removes a profile and its keychain items.
    profile_remove (ProfileRemove): ProfileNameRequest => ProfileNameRequest = profiles::profile_remove;
    /// Adds a profile: keys (the secret goes to the keychain, never back) or a role from another profile.
    profile_add (ProfileAdd): ProfileAddRequest => ProfileNameRequest = profiles::profile_add;
    /// Asks STS who the profile's session is (GetCallerIdentity).
    profile_verify (ProfileVerify): ProfileVerifyRequest => ProfileIdentity = profiles::profile_verify;
    /// Imports the profiles of `~/.aws/config` and `~/.aws/credentials`.
    profiles_import (ProfilesImport): ProfilesImportRequest => ProfilesImportResponse = profiles::profiles_import;
}

/// An empty body (`null`, or nothing) means "no arguments".
fn parse_request<T: serde::de::DeserializeOwned>(
    command: &str,
    request: serde_json::Value,
) -> Result<T, ApiError> {
    let request = if request.is_null() {
        serde_json::Value::Object(Default::default())
    } else {
        request
    };
    serde_json::from_value(request).map_err(|e| ApiError::invalid_request(command, e))
}

mod commands;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    struct FixedClock(Arc<AtomicI64>);
    impl Clock for FixedClock {
        fn now(&self) -> Millis {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn core_at(time: Arc<AtomicI64>) -> (tempfile::TempDir, Core) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let core = Core::open(&data, crate::model::Host::Cli, Arc::new(FixedClock(time))).unwrap();
        (dir, core)
    }

    #[tokio::test]
    async fn status_reports_the_data_dir_and_uptime_from_the_clock() {
        let time = Arc::new(AtomicI64::new(1_000));
        let (_dir, core) = core_at(time.clone());
        assert!(core.data_dir().is_dir(), "open creates the data directory");
        time.store(4_500, Ordering::SeqCst);
        let status: StatusResponse =
            serde_json::from_value(core.call("status", serde_json::Value::Null).await.unwrap())
                .unwrap();
        assert_eq!(status.started_at, 1_000);
        assert_eq!(status.uptime_ms, 3_500);
        assert_eq!(status.data_dir, core.data_dir().display().to_string());
        assert_eq!(status.commands[..3], ["version", "status", "notify"]);
        assert_eq!(status.repositories, 0);
        assert!(status.database.ends_with("slipway.db"));
    }

    #[tokio::test]
    async fn unknown_commands_and_bad_requests_get_stable_codes() {
        let (_dir, core) = core_at(Arc::new(AtomicI64::new(0)));
        let err = core
            .call("deploy_everything", serde_json::json!({}))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownCommand);
        assert!(
            err.message.contains("status"),
            "lists the known commands: {}",
            err.message
        );

        let err = core
            .call("version", serde_json::json!({"verbose": true}))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        assert!(err.message.contains("verbose"), "{}", err.message);
    }

    #[tokio::test]
    async fn demo_refuses_a_taken_port_then_reports_an_existing_demo() {
        let (_dir, core) = core_at(Arc::new(AtomicI64::new(0)));
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let free = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = core
            .call(
                "demo",
                serde_json::json!({"staging_port": port, "production_port": free}),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(
            err.message
                .contains(&format!("port {port} for the demo's staging")),
            "{}",
            err.message
        );
        assert!(
            !core.data_dir().join("demo").exists(),
            "nothing was written"
        );
        let err = core
            .call(
                "demo",
                serde_json::json!({"staging_port": free, "production_port": free}),
            )
            .await
            .unwrap_err();
        assert!(
            err.message.contains("two different ports"),
            "{}",
            err.message
        );

        drop(taken);
        let ports = serde_json::json!({"staging_port": port, "production_port": free});
        core.call("demo", ports.clone()).await.unwrap();
        let err = core.call("demo", ports).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::AlreadyExists);
        assert!(err.message.contains("already exists"), "{}", err.message);
    }

    #[tokio::test]
    async fn notify_reaches_every_listener() {
        let (_dir, core) = core_at(Arc::new(AtomicI64::new(0)));
        let mut a = core.subscribe();
        let mut b = core.subscribe();
        let resp = core
            .call(
                "notify",
                serde_json::json!({"title": "Build failed", "body": "web #12"}),
            )
            .await
            .unwrap();
        assert_eq!(resp["delivered_to"], 2);
        for rx in [&mut a, &mut b] {
            let Event::Notification(n) = rx.recv().await.unwrap() else {
                panic!("expected a notification");
            };
            assert_eq!(n.title, "Build failed");
            assert_eq!(n.level, NotificationLevel::Info);
        }
    }

    #[tokio::test]
    async fn pipelines_lists_each_file_at_head_and_flags_the_invalid_and_the_missing() {
        let (_dir, core) = core_at(Arc::new(AtomicI64::new(0)));
        let repo = crate::testing::GitRepo::new();
        repo.write(
            ".slipway/web.yml",
            "version: 1\ntriggers:\n  - push: { branches: [main] }\nstages:\n  - name: Build\n    actions:\n      - { name: compile, type: command, commands: ['true'] }\n  - name: Test\n    actions:\n      - { name: unit, type: command, commands: ['true'] }\n",
        );
        repo.write(".slipway/broken.yml", "version: 1\nstages: 3\n");
        repo.commit("Add pipelines");
        // Uncommitted files are not what a release would run.
        repo.write(".slipway/draft.yml", "version: 1\nstages: []\n");
        core.call(
            "repo_add",
            serde_json::json!({"path": repo.path(), "name": "shop"}),
        )
        .await
        .unwrap();
        let gone = crate::testing::GitRepo::new();
        gone.commit("empty");
        core.call(
            "repo_add",
            serde_json::json!({"path": gone.path(), "name": "old"}),
        )
        .await
        .unwrap();
        std::fs::remove_dir_all(gone.path()).unwrap();

        let resp: PipelinesResponse = serde_json::from_value(
            core.call("pipelines", serde_json::Value::Null)
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(resp.pipelines.len(), 1, "{:?}", resp.pipelines);
        let web = &resp.pipelines[0];
        assert_eq!(web.key, "shop/web");
        assert_eq!(web.stages, ["Build", "Test"]);
        assert_eq!(web.triggers, ["push main"]);
        assert!(!web.trusted);
        assert_eq!(web.latest, None);
        let broken = resp
            .problems
            .iter()
            .find(|p| p.repository == "shop")
            .expect("the invalid file is listed");
        assert_eq!(broken.file.as_deref(), Some(".slipway/broken.yml"));
        assert!(
            broken.message.contains("broken.yml:2"),
            "{}",
            broken.message
        );
        let old = resp
            .problems
            .iter()
            .find(|p| p.repository == "old")
            .unwrap();
        assert!(old.message.contains("gone"), "{}", old.message);
    }

    #[tokio::test]
    async fn an_unknown_execution_has_no_log_and_says_so() {
        let (_dir, core) = core_at(Arc::new(AtomicI64::new(0)));
        let err = core
            .call(
                "action_log",
                serde_json::json!({"id": "nope", "stage": 0, "action": "build"}),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound);
        assert!(err.message.contains("nope"), "{}", err.message);
    }

    #[tokio::test]
    async fn a_rollback_from_the_window_the_cli_and_the_tray_is_one_typed_request() {
        let (_dir, core) = core_at(Arc::new(AtomicI64::new(7_000)));
        let asked = crate::model::RollbackRequest {
            environment: "production".into(),
            pipeline: Some("shop/release".into()),
            to: Some("d-41".into()),
        };
        // The window (Tauri IPC, or HTTP from a browser) calls by name with JSON.
        let window = core
            .call(
                "rollback",
                serde_json::json!({"environment": "production", "pipeline": "shop/release", "to": "d-41"}),
            )
            .await
            .unwrap_err();
        // The CLI goes through the typed door.
        let cli = core
            .command::<cmd::Rollback>(asked.clone())
            .await
            .unwrap_err();
        // The tray, once its entry is confirmed.
        let tray = tray::roll_back(
            &core,
            "shop/release".into(),
            "production".into(),
            "d-41".into(),
        )
        .await
        .unwrap_err();
        for err in [&window, &cli, &tray] {
            assert_eq!(err.code, ErrorCode::NotFound, "{err:?}");
            assert!(err.message.contains("production"), "{}", err.message);
        }
        let rows = core.store().engine_requests(10).unwrap();
        assert_eq!(rows.len(), 3, "one mailbox row per surface");
        for row in rows {
            assert_eq!(
                row.request,
                crate::model::EngineRequest::Rollback(asked.clone())
            );
            assert_eq!(row.error_code, Some(ErrorCode::NotFound));
            assert_eq!(row.requested_at, 7_000);
            assert!(row.taken && row.started.is_none());
        }
        assert!(core.runs_here().await, "no other process was the engine");
        assert_eq!(
            core.settle().await.map(|s| s.served_environments),
            Some(false)
        );
    }

    #[test]
    fn opening_a_data_dir_under_a_file_says_which_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let err = Core::open(
            &file.join("data"),
            crate::model::Host::Cli,
            Arc::new(SystemClock),
        )
        .err()
        .expect("cannot create a directory under a file");
        assert!(err.to_string().contains("not-a-dir"), "{err}");
    }
}
