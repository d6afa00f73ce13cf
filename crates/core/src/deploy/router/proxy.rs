//! One request through the router: choose a set and a backend from the
//! current table, forward it on one of the client connection's own backend
//! connections, stream the response back, count the outcome.
//!
//! Each client connection keeps its own keep-alive connections to the
//! backends ([`ClientConn`]) and its task drives them ([`Driver`]) next to
//! the client side, the way an nginx worker serves both sides of a proxied
//! request from one event loop: a request, its backend round trip and its
//! response never wait for another task to be woken, possibly on the other
//! core. An HTTP/1.1 client connection has one request in flight at a
//! time, so it never needs more than one backend connection at once.
//!
//! Bodies are never buffered: the request body goes to the backend as it
//! arrives and the response body comes back the same way. A request is
//! retried on another backend of the same set only when it cannot have had
//! an effect: an idempotent method, no body, and a connection that was
//! never established. A request that was never written because the idle
//! keep-alive connection it was given had just been closed goes again on a
//! new connection to the same backend, whatever its method.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1 as backend_http1;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::stats::Outcome;
use super::Shared;

/// The body type both ways: whatever hyper streams in, or the router's own
/// short text.
pub(crate) type ProxyBody = UnsyncBoxBody<Bytes, hyper::Error>;

/// The response header naming the set that answered.
pub const SET_HEADER: &str = "x-slipway-set";

/// How many backends one idempotent, body-less request may try.
const MAX_ATTEMPTS: usize = 3;

/// Backends are local instances that come and go with deployments: keep
/// an idle connection long enough for steady traffic, not forever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// At most this many idle backend connections per client connection (one
/// per backend it alternates between; more only after a table change).
const MAX_IDLE: usize = 8;

type BackendConnection = backend_http1::Connection<TokioIo<TcpStream>, ProxyBody>;
type Sender = backend_http1::SendRequest<ProxyBody>;

/// One client connection's side of the router: what its requests need.
pub(crate) struct ClientConn {
    shared: Arc<Shared>,
    /// `X-Forwarded-For`'s value, made once per connection.
    forwarded_for: Option<HeaderValue>,
    backends: Mutex<Backends>,
}

#[derive(Default)]
struct Backends {
    /// Keep-alive connections between requests, most recently used last.
    idle: Vec<Idle>,
    /// Connections opened by a request, for the [`Driver`] to take over.
    opened: Vec<BackendConnection>,
}

struct Idle {
    addr: SocketAddr,
    sender: Sender,
    since: Instant,
}

impl ClientConn {
    pub(crate) fn new(shared: Arc<Shared>, peer: SocketAddr) -> ClientConn {
        ClientConn {
            shared,
            forwarded_for: HeaderValue::from_str(&peer.ip().to_string()).ok(),
            backends: Mutex::new(Backends::default()),
        }
    }

    fn backends(&self) -> MutexGuard<'_, Backends> {
        // Only this connection's task takes it: never contended.
        self.backends.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most recently used idle connection to `addr` that is not known
    /// to be closed.
    fn checkout(&self, addr: SocketAddr) -> Option<Sender> {
        let mut backends = self.backends();
        backends.idle.retain(|i| !i.sender.is_closed());
        let at = backends.idle.iter().rposition(|i| i.addr == addr)?;
        Some(backends.idle.remove(at).sender)
    }

    fn checkin(&self, addr: SocketAddr, sender: Sender) {
        let mut backends = self.backends();
        if backends.idle.len() >= MAX_IDLE {
            backends.idle.remove(0);
        }
        backends.idle.push(Idle {
            addr,
            sender,
            since: Instant::now(),
        });
    }

    async fn open(&self, addr: SocketAddr) -> Result<Sender, Failure> {
        let stream = TcpStream::connect(addr).await.map_err(Failure::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = backend_http1::handshake(TokioIo::new(stream))
            .await
            .map_err(Failure::Http)?;
        self.backends().opened.push(connection);
        Ok(sender)
    }

    /// Sends `request` to `addr` on an idle keep-alive connection, or a new
    /// one, and hands the connection back as soon as the response head is
    /// in (the next request waits for this response's body to end). When
    /// no connection could be established, the request comes back whole.
    async fn send(
        &self,
        addr: SocketAddr,
        mut request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, (Failure, Option<Request<ProxyBody>>)> {
        loop {
            let (mut sender, reused) = match self.checkout(addr) {
                Some(sender) => (sender, true),
                None => match self.open(addr).await {
                    Ok(sender) => (sender, false),
                    Err(e) => return Err((e, Some(request))),
                },
            };
            if reused && sender.ready().await.is_err() {
                // Closed while idle: the backend went away or timed it out.
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => {
                    self.checkin(addr, sender);
                    return Ok(response);
                }
                Err(mut e) => match e.take_message() {
                    // Never written: the connection closed as we picked it.
                    Some(unsent) if reused => request = unsent,
                    _ => return Err((Failure::Http(e.into_error()), None)),
                },
            }
        }
    }
}

/// Why a request got no response head from its backend.
#[derive(Debug)]
enum Failure {
    /// The connection was never established: nothing was sent.
    Connect(io::Error),
    Http(hyper::Error),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Connect(e) => write!(f, "cannot connect: {e}"),
            Failure::Http(e) => write!(f, "{e}"),
        }
    }
}

/// Drives one client connection's backend connections; polled by that
/// connection's task, next to the client side (see `router::serve`).
pub(crate) struct Driver {
    client: Arc<ClientConn>,
    running: FuturesUnordered<BackendConnection>,
    /// When the oldest idle connection times out; armed while there are
    /// idle ones (once per [`IDLE_TIMEOUT`], not per request).
    sweep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Driver {
    pub(crate) fn new(client: Arc<ClientConn>) -> Driver {
        Driver {
            client,
            running: FuturesUnordered::new(),
            sweep: None,
        }
    }

    /// Polls every backend connection that has something to do, takes
    /// over those opened since, closes those idle for too long. Never
    /// finishes: the client side's end ends it.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) {
        loop {
            let mut backends = self.client.backends();
            self.running.extend(backends.opened.drain(..));
            let sweep = match &mut self.sweep {
                Some(sweep) => sweep,
                None => match backends.idle.iter().map(|i| i.since).min() {
                    Some(oldest) => self.sweep.insert(Box::pin(tokio::time::sleep_until(
                        (oldest + IDLE_TIMEOUT).into(),
                    ))),
                    None => break,
                },
            };
            if sweep.as_mut().poll(cx).is_pending() {
                break;
            }
            self.sweep = None;
            let now = Instant::now();
            // Dropping the sender lets its connection close once idle.
            backends.idle.retain(|i| now < i.since + IDLE_TIMEOUT);
        }
        while let Poll::Ready(Some(ended)) = self.running.poll_next_unpin(cx) {
            if let Err(e) = ended {
                tracing::debug!(error = %e, "router: backend connection ended with an error");
            }
        }
    }
}

pub(crate) async fn handle(
    req: Request<Incoming>,
    client: Arc<ClientConn>,
) -> Result<Response<ProxyBody>, Infallible> {
    let shared = &client.shared;
    let table = shared.table();
    let Some(set) = table.choose_set() else {
        shared.total.record(Outcome::Unavailable, Instant::now());
        return Ok(text(
            StatusCode::SERVICE_UNAVAILABLE,
            "no backend in service\n",
        ));
    };

    let (mut parts, body) = req.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    if let Some(value) = &client.forwarded_for {
        parts
            .headers
            .append(HeaderName::from_static("x-forwarded-for"), value.clone());
    }
    // The backend gets the origin form (a client may send the absolute
    // form, as to a proxy).
    if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let Ok(uri) = Uri::try_from(path) else {
            return Ok(text(StatusCode::BAD_REQUEST, "bad request target\n"));
        };
        parts.uri = uri;
    }
    let has_host = parts.headers.contains_key(header::HOST);
    let retryable = is_idempotent(&parts.method) && body.is_end_stream();
    parts.version = Version::HTTP_11;
    parts.extensions.clear();
    let mut upstream = Request::from_parts(parts, body.boxed_unsync());
    let mut tried: Vec<SocketAddr> = Vec::new();

    let outcome = loop {
        let Some(addr) = set.choose_backend(&tried) else {
            // None left: report the last failure, if any backend was tried.
            break Err(tried.last().copied());
        };
        tried.push(addr);
        if !has_host {
            // HTTP/1.1 requires one; an HTTP/1.0 client may not have sent it.
            if let Ok(host) = HeaderValue::from_str(&addr.to_string()) {
                upstream.headers_mut().insert(header::HOST, host);
            }
        }
        match client.send(addr, upstream).await {
            Ok(response) => break Ok(response),
            Err((e, unsent)) => {
                tracing::warn!(backend = %addr, set = %set.name, error = %e, "router: backend failed");
                // `unsent` is there only when no connection was established.
                match unsent {
                    Some(request) if retryable && tried.len() < MAX_ATTEMPTS => {
                        upstream = request;
                    }
                    _ => break Err(Some(addr)),
                }
            }
        }
    };
    let now = Instant::now();
    let mut response = match outcome {
        Ok(response) => {
            let outcome = Outcome::Answered(response.status());
            set.stats.record(outcome, now);
            shared.total.record(outcome, now);
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, body.boxed_unsync())
        }
        Err(failed) => {
            let outcome = match failed {
                Some(_) => Outcome::ProxyError,
                // Every backend of the set left service between the choice
                // of the set and of the backend: nothing was tried.
                None => Outcome::Unavailable,
            };
            set.stats.record(outcome, now);
            shared.total.record(outcome, now);
            match failed {
                Some(_) => text(StatusCode::BAD_GATEWAY, "backend unreachable\n"),
                None => text(StatusCode::SERVICE_UNAVAILABLE, "no backend in service\n"),
            }
        }
    };
    if let Some(value) = &set.header {
        response
            .headers_mut()
            .insert(HeaderName::from_static(SET_HEADER), value.clone());
    }
    Ok(response)
}

fn text(status: StatusCode, body: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(body.as_bytes()))
            .map_err(|n| match n {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1):
/// each side of the proxy has its own connection, and hyper frames bodies
/// itself.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}
