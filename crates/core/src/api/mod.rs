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

pub use crate::events::{Event, LogChunk, Notification, NotificationLevel};
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
    host: &'static str,
    clock: Arc<dyn Clock>,
    started_at: Millis,
    events: broadcast::Sender<Event>,
    /// Milliseconds from opening to the first `status` call: in the
    /// desktop app, how long the window took to show the UI and ask.
    first_status: std::sync::OnceLock<i64>,
    /// The engine this core hosts, once it does (what its environments
    /// serve is read from it).
    hosted: std::sync::OnceLock<std::sync::Weak<crate::engine::Engine>>,
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
    /// Opens (creating it if needed) the data directory and starts an engine
    /// on it. `host` says who runs it (`desktop`, `serve`, `cli`).
    pub fn open(
        data_dir: &Path,
        host: &'static str,
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
            crate::engine::default_max_parallel(),
        )?;
        if let Some(h) = &hosted {
            let _ = self.hosted.set(Arc::downgrade(&h.engine));
        }
        Ok(hosted)
    }

    /// The engine this process hosts, while it runs.
    pub fn engine(&self) -> Option<Arc<crate::engine::Engine>> {
        self.hosted.get()?.upgrade()
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

/// Declares the command table. Each line: `name: Request => Response = handler;`
/// where the handler is `async fn(&Core, Request) -> Result<Response, ApiError>`.
macro_rules! command_table {
    ($( $(#[doc = $doc:literal])* $name:ident : $req:ty => $resp:ty = $handler:path ; )*) => {
        /// Every command name, in declaration order.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        async fn dispatch(
            core: &Core,
            command: &str,
            request: serde_json::Value,
        ) -> Result<serde_json::Value, ApiError> {
            match command {
                $(stringify!($name) => {
                    let request: $req = parse_request(command, request)?;
                    let response: $resp = $handler(core, request).await?;
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
    version: VersionRequest => VersionResponse = commands::version;
    /// What this engine is and where it keeps its data.
    status: StatusRequest => StatusResponse = commands::status;
    /// Sends a notification to every listener (tray, windows, browser tabs).
    notify: NotifyRequest => NotifyResponse = commands::notify;
    /// Adds a local git repository (untrusted unless `trust`).
    repo_add: RepoAddRequest => RepositoryInfo = commands::repo_add;
    /// Every added repository, with whether it is missing.
    repo_list: RepoListRequest => RepoListResponse = commands::repo_list;
    /// Forgets a repository (its files are not touched).
    repo_remove: RepoNameRequest => RepositoryInfo = commands::repo_remove;
    /// Trusts a repository, so its pipelines may run (or withdraws trust).
    repo_trust: RepoTrustRequest => RepositoryInfo = commands::repo_trust;
    /// Executions, newest first, optionally of one pipeline.
    executions: ExecutionsRequest => ExecutionsResponse = commands::executions;
    /// One execution with its stages, actions, variables and artifacts.
    execution: ExecutionRequest => ExecutionDetail = commands::execution;
    /// Approves a waiting approval action.
    approve: DecisionRequest => DecisionResponse = commands::approve;
    /// Rejects a waiting approval action (its stage fails).
    reject: DecisionRequest => DecisionResponse = commands::reject;
    /// Stops an execution: running actions finish, or with `abandon` end now.
    stop: StopRequest => ExecutionRequest = commands::stop;
    /// Starts a pipeline ("Release change") in the running engine.
    run: RunPipelineRequest => ExecutionRequest = commands::run;
    /// Retries a failed execution's failed actions in the running engine.
    retry: ExecutionRequest => ExecutionRequest = commands::retry;
    /// Deployments, newest first, optionally of one environment or pipeline.
    deployments: DeploymentsRequest => DeploymentsResponse = commands::deployments;
    /// One deployment with its per-instance lifecycle events.
    deployment: DeploymentRequest => DeploymentDetail = commands::deployment;
    /// Every environment deployed to: what it serves and what a rollback restores.
    environments: EnvironmentsRequest => EnvironmentsResponse = commands::environments;
    /// Rolls an environment back (a new deployment of an earlier revision) in the running engine.
    rollback: RollbackRequest => DeploymentRequest = commands::rollback;
    /// Creates the demo repository (a small web service and its release pipeline), trusted.
    demo: DemoRequest => RepositoryInfo = commands::demo;
    /// What the tray shows: the overall state and the menu's entries.
    tray_menu: TrayMenuRequest => tray::TrayMenu = commands::tray_menu;
    /// The person's settings (success notifications, watching paused), changing those given.
    settings: settings::SettingsRequest => settings::Settings = settings::settings;
    /// Every pipeline of every repository (its file at HEAD) with its latest
    /// execution's stage strip; invalid files and unreadable repositories as problems.
    pipelines: PipelinesRequest => PipelinesResponse = pipelines::pipelines;
    /// A page of one action's log: the tail, forward from an offset, or backwards before one.
    action_log: ActionLogRequest => ActionLogResponse = logs::action_log;
    /// Credential profiles: metadata, role chains and session expiries, never secrets.
    profiles: ProfilesRequest => ProfilesResponse = profiles::profiles;
    /// Removes a profile and its keychain items.
    profile_remove: ProfileNameRequest => ProfileNameRequest = profiles::profile_remove;
    /// Adds a profile: keys (the secret goes to the keychain, never back) or a role from another profile.
    profile_add: ProfileAddRequest => ProfileNameRequest = profiles::profile_add;
    /// Asks STS who the profile's session is (GetCallerIdentity).
    profile_verify: ProfileVerifyRequest => ProfileIdentity = profiles::profile_verify;
    /// Imports the profiles of `~/.aws/config` and `~/.aws/credentials`.
    profiles_import: ProfilesImportRequest => ProfilesImportResponse = profiles::profiles_import;
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
        let core = Core::open(&data, "cli", Arc::new(FixedClock(time))).unwrap();
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

    #[test]
    fn opening_a_data_dir_under_a_file_says_which_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let err = Core::open(&file.join("data"), "cli", Arc::new(SystemClock))
            .err()
            .expect("cannot create a directory under a file");
        assert!(err.to_string().contains("not-a-dir"), "{err}");
    }
}
