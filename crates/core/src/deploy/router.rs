//! The `local` provider's traffic router: one per environment, listening on
//! the environment's `listen` address and reverse-proxying HTTP/1.1 to the
//! environment's instances (the pipeline file's `provider: local` with
//! `listen`, `instances` and `run`).
//!
//! It owns the listening socket, the keep-alive connections on both sides,
//! the routing table (named [`BackendSet`]s with traffic weights, each
//! backend in or out of service) and the traffic counts the error-rate
//! alarm reads. A strategy drives it with [`Router::set_sets`] (blue/green,
//! canary and linear move weights; the switch is one atomic table swap) and
//! [`Router::set_in_service`] (rolling takes an instance out before touching
//! it). Every response carries `x-slipway-set: <set name>`.
//!
//! It must never decide anything: it does not health-check, start or stop
//! instances, judge an error rate or retry a request that may have had an
//! effect. HTTP is hyper's (server `http1`, client `http1` connections kept
//! per client connection and driven by its task); the router parses
//! nothing itself and never buffers a body.
//!
//! ```text
//! let router = Router::start("127.0.0.1:8080".parse()?).await?;
//! router.set_sets(vec![BackendSet::new("blue", 100, [8101, 8102])])?;
//! router.set_sets(vec![BackendSet::new("blue", 90, [8101, 8102]),
//!                      BackendSet::new("green", 10, [8201, 8202])])?;
//! let alarm = router.error_rate(Duration::from_secs(60)) > 0.05;
//! router.stop().await;
//! ```

mod proxy;
mod stats;
mod table;

use std::collections::{BTreeMap, HashSet};
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

pub use proxy::SET_HEADER;
pub use stats::{TrafficCounts, WINDOW_SECONDS};

use proxy::{ClientConn, Driver};
use stats::TrafficStats;
use table::Table;

/// How long [`Router::stop`] lets in-flight requests finish before it
/// closes their connections: longer than a normal request, short enough
/// that stopping an environment never seems to hang.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// One instance the router may send requests to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backend {
    pub addr: SocketAddr,
    /// Out of service: no new requests (requests already sent finish).
    pub in_service: bool,
}

impl Backend {
    /// A backend in service.
    pub fn new(addr: SocketAddr) -> Self {
        Backend {
            addr,
            in_service: true,
        }
    }
}

/// A named group of backends sharing one traffic weight: "blue"/"green",
/// or a deployment id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackendSet {
    pub name: String,
    /// Relative share of requests; 0 keeps the set routable-to-later but
    /// idle (blue/green's old set during `termination-wait`).
    pub weight: u32,
    pub backends: Vec<Backend>,
}

impl BackendSet {
    /// A set of local instances (127.0.0.1:PORT), all in service.
    pub fn new(name: &str, weight: u32, ports: impl IntoIterator<Item = u16>) -> Self {
        BackendSet {
            name: name.to_owned(),
            weight,
            backends: ports
                .into_iter()
                .map(|port| Backend::new(SocketAddr::from(([127, 0, 0, 1], port))))
                .collect(),
        }
    }
}

/// A snapshot of the counts, for the whole router and per set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RouterStats {
    /// Every request, including 503s answered when no set was available.
    pub total: TrafficCounts,
    /// Sets in the current table, counted since the set first appeared
    /// (a set keeps its counts across `set_sets` while its name stays).
    pub sets: BTreeMap<String, TrafficCounts>,
}

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("cannot listen on {addr}: the address is already in use (another environment or program has it)")]
    AddressInUse { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("backend set `{name}` is named twice")]
    DuplicateSet { name: String },
    #[error("no backend {addr} in the router's sets")]
    UnknownBackend { addr: SocketAddr },
}

/// State shared by the control side and every connection.
pub(crate) struct Shared {
    table: RwLock<Arc<Table>>,
    /// Serialises table changes so an in-service flip is never applied to
    /// a table that is being replaced.
    control: Mutex<()>,
    total: TrafficStats,
    origin: Instant,
    /// Bumped on every table change and in-service flip.
    version: watch::Sender<u64>,
}

impl Shared {
    fn changed(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub(crate) fn table(&self) -> Arc<Table> {
        self.table.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Reads a router's current table; see [`Router::reader`].
#[derive(Clone)]
pub struct RouterReader(Arc<Shared>);

impl RouterReader {
    /// Changes whenever the table or an in-service flag does.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.0.version.subscribe()
    }

    pub fn sets(&self) -> Vec<BackendSet> {
        use std::sync::atomic::Ordering;
        let table = self.0.table();
        table
            .sets
            .iter()
            .map(|set| BackendSet {
                name: set.name.to_string(),
                weight: set.weight,
                backends: set
                    .backends
                    .iter()
                    .map(|b| Backend {
                        addr: b.addr,
                        in_service: b.in_service.load(Ordering::SeqCst),
                    })
                    .collect(),
            })
            .collect()
    }
}

/// A running router. Dropping it stops accepting new connections too, but
/// only [`Router::stop`] waits for in-flight requests.
pub struct Router {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl Router {
    /// Binds `listen` and starts serving with an empty table (every
    /// request gets 503 until [`Router::set_sets`]). Needs a tokio runtime.
    pub async fn start(listen: SocketAddr) -> Result<Router, RouterError> {
        let listener = TcpListener::bind(listen).await.map_err(|source| {
            if source.kind() == io::ErrorKind::AddrInUse {
                RouterError::AddressInUse { addr: listen }
            } else {
                RouterError::Listen {
                    addr: listen,
                    source,
                }
            }
        })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| RouterError::Listen {
                addr: listen,
                source,
            })?;
        let origin = Instant::now();
        let shared = Arc::new(Shared {
            table: RwLock::new(Arc::new(Table::empty())),
            control: Mutex::new(()),
            total: TrafficStats::new(origin),
            origin,
            version: watch::channel(0).0,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(listener, shared.clone(), shutdown_rx));
        Ok(Router {
            shared,
            local_addr,
            shutdown,
            accept,
        })
    }

    /// The bound address (the real port when `listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Replaces the whole table at once: the next request sees the new
    /// sets, weights and in-service flags; requests already sent finish
    /// where they went. Counts carry over for sets that keep their name.
    pub fn set_sets(&self, sets: Vec<BackendSet>) -> Result<(), RouterError> {
        let mut names = HashSet::new();
        if let Some(dup) = sets.iter().find(|s| !names.insert(s.name.as_str())) {
            return Err(RouterError::DuplicateSet {
                name: dup.name.clone(),
            });
        }
        let _control = self
            .shared
            .control
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let old = self.shared.table();
        let origin = self.shared.origin;
        let table = Table::new(sets, |name| {
            old.sets
                .iter()
                .find(|s| &*s.name == name)
                .map_or_else(|| Arc::new(TrafficStats::new(origin)), |s| s.stats.clone())
        });
        *self.shared.table.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(table);
        self.shared.changed();
        Ok(())
    }

    /// Takes the backend at `addr` out of service (no new requests) or puts
    /// it back, in whichever sets it appears; weights are untouched. The
    /// next [`Router::set_sets`] replaces the flag with the one it is given.
    pub fn set_in_service(&self, addr: SocketAddr, in_service: bool) -> Result<(), RouterError> {
        let _control = self
            .shared
            .control
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if self.shared.table().set_in_service(addr, in_service) {
            self.shared.changed();
            Ok(())
        } else {
            Err(RouterError::UnknownBackend { addr })
        }
    }

    /// The sets currently routed to, with their flags as they are now.
    pub fn sets(&self) -> Vec<BackendSet> {
        self.reader().sets()
    }

    /// A handle that reads the table (weights, in-service flags) without
    /// owning the router: for views of an environment while a deployment
    /// holds it.
    pub fn reader(&self) -> RouterReader {
        RouterReader(self.shared.clone())
    }

    pub fn stats(&self) -> RouterStats {
        let table = self.shared.table();
        RouterStats {
            total: self.shared.total.counts(),
            sets: table
                .sets
                .iter()
                .map(|s| (s.name.to_string(), s.stats.counts()))
                .collect(),
        }
    }

    /// Share of requests over the last `window` (whole seconds, at most
    /// [`WINDOW_SECONDS`]) that got a 5xx, a 502 from the router or a 503;
    /// 0.0 when there were none.
    pub fn error_rate(&self, window: Duration) -> f64 {
        self.shared.total.error_rate(window, Instant::now())
    }

    /// The same for one set of the current table (a canary's own errors);
    /// `None` when no set has that name.
    pub fn set_error_rate(&self, set: &str, window: Duration) -> Option<f64> {
        let table = self.shared.table();
        let entry = table.sets.iter().find(|s| &*s.name == set)?;
        Some(entry.stats.error_rate(window, Instant::now()))
    }

    /// Stops accepting, lets in-flight requests finish (up to
    /// [`DRAIN_TIMEOUT`]), then closes every connection.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        if let Err(e) = self.accept.await {
            tracing::warn!(error = %e, "router: accept loop ended abnormally");
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            // A send or a dropped Router: either way, stop.
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let worker = Worker::least_busy();
                    // Re-registered with the worker's own reactor there.
                    let stream = match stream.into_std() {
                        Ok(stream) => stream,
                        Err(e) => {
                            tracing::warn!(error = %e, "router: cannot hand a connection over");
                            continue;
                        }
                    };
                    let serving = serve(stream, peer, shared.clone(), shutdown.clone(), worker.busy());
                    match &worker.runtime {
                        Some(runtime) => connections.spawn_on(serving, runtime),
                        None => connections.spawn(serving),
                    };
                }
                Err(e) => {
                    // Usually out of file descriptors: back off rather than spin.
                    tracing::warn!(error = %e, "router: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.shutdown().await;
    }
}

/// The threads that serve client connections, shared by every router in
/// the process: each runs its own single-threaded tokio runtime (its own
/// epoll), and a connection stays on the one it was given, both of its
/// sides, like a connection in an nginx worker. On the engine's
/// multi-thread runtime the same connection's wake-ups kept moving it
/// between cores and waking the idle worker to steal it (a futex call
/// per request or so). The accept loop stays on the caller's runtime.
struct Worker {
    /// `None` when no thread could be started: serve on the caller's
    /// runtime instead.
    runtime: Option<tokio::runtime::Handle>,
    connections: Arc<AtomicUsize>,
}

/// Counts a connection on its worker while it lives.
struct Busy(Arc<AtomicUsize>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Worker {
    fn all() -> &'static [Worker] {
        static WORKERS: OnceLock<Vec<Worker>> = OnceLock::new();
        WORKERS.get_or_init(|| {
            let count = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
            let mut workers: Vec<Worker> = (0..count).filter_map(Worker::start).collect();
            if workers.is_empty() {
                workers.push(Worker {
                    runtime: None,
                    connections: Arc::default(),
                });
            }
            workers
        })
    }

    fn start(index: usize) -> Option<Worker> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("slipway-router-{index}"))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        tracing::warn!(error = %e, "router: cannot start a worker runtime");
                        return;
                    }
                };
                let _ = handle_tx.send(runtime.handle().clone());
                // Serves whatever is spawned on it, for the life of the process.
                runtime.block_on(std::future::pending::<()>());
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "router: cannot start a worker thread");
            return None;
        }
        Some(Worker {
            runtime: Some(handle_rx.recv().ok()?),
            connections: Arc::default(),
        })
    }

    fn least_busy() -> &'static Worker {
        Worker::all()
            .iter()
            .min_by_key(|w| w.connections.load(Ordering::Relaxed))
            .expect("at least one worker")
    }

    fn busy(&self) -> Busy {
        self.connections.fetch_add(1, Ordering::Relaxed);
        Busy(self.connections.clone())
    }
}

/// How many times one wake-up of a connection's task may go round its
/// client side and backend connections before it yields to other tasks.
const ROUNDS_PER_POLL: usize = 8;

/// The waker a connection's task hands to its client side and backend
/// connections. Most wake-ups come from inside the task itself (the
/// backend connection got the response the request is waiting for): those
/// only mark `woken`, and the task goes round again at once instead of
/// being rescheduled. Wake-ups from elsewhere (the I/O driver, a timer, a
/// `stop`) wake the task as usual.
#[derive(Default)]
struct SameTask {
    polling: AtomicBool,
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for SameTask {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // SeqCst on both sides: either the poller sees `woken` after
        // clearing `polling`, or we see `polling` cleared and wake it.
        self.woken.store(true, Ordering::SeqCst);
        if !self.polling.load(Ordering::SeqCst) {
            self.task.wake();
        }
    }
}

/// Serves one client connection: hyper's server side and, in the same
/// task, the backend connections its requests use (see `proxy`).
async fn serve(
    stream: std::net::TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    _busy: Busy,
) {
    let stream = match TcpStream::from_std(stream) {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!(peer = %peer, error = %e, "router: cannot serve a connection");
            return;
        }
    };
    let client = Arc::new(ClientConn::new(shared, peer));
    let mut driver = Driver::new(client.clone());
    let service = service_fn(move |req| proxy::handle(req, client.clone()));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    let mut connection = pin!(connection);
    let mut stop = pin!(shutdown.changed());
    let mut draining = false;
    let same_task = Arc::new(SameTask::default());
    let waker = Waker::from(same_task.clone());
    let result = poll_fn(|cx| {
        same_task.task.register(cx.waker());
        let mut inner = Context::from_waker(&waker);
        for _ in 0..ROUNDS_PER_POLL {
            same_task.woken.store(false, Ordering::SeqCst);
            same_task.polling.store(true, Ordering::SeqCst);
            // A send or a dropped Router: either way, drain.
            if !draining && stop.as_mut().poll(&mut inner).is_ready() {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
            driver.poll(&mut inner);
            let served = connection.as_mut().poll(&mut inner);
            if served.is_pending() {
                // A request may have just opened or used a connection.
                driver.poll(&mut inner);
            }
            same_task.polling.store(false, Ordering::SeqCst);
            if served.is_ready() {
                return served;
            }
            if !same_task.woken.swap(false, Ordering::SeqCst) {
                return Poll::Pending;
            }
        }
        // Still busy: let the other connections have their turn.
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
    if let Err(e) = result {
        tracing::debug!(peer = %peer, error = %e, "router: client connection ended with an error");
    }
}
