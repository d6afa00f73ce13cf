//! `slipway serve`: the web UI and the command table over HTTP, for headless
//! machines and browser tests. `POST /api/<command>` with a JSON body answers
//! JSON; `GET /api/events` is a server-sent-event stream of the core's events;
//! `/` serves the built UI.
//!
//! Security: binds 127.0.0.1 unless told otherwise; every API call carries the
//! bearer token generated at start (printed in the URL on the first line of
//! stdout); calls from a page of another origin, or naming a foreign Host
//! (DNS rebinding), are refused.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{Stream, StreamExt};
use slipway_core::api::{ApiError, Core, ErrorCode};
use tokio_stream::wrappers::BroadcastStream;

use crate::CliError;

/// Idle SSE connections get a comment this often, so proxies and browsers
/// keep them open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The UI's Content-Security-Policy: everything from this origin, nothing
/// else. `style-src 'unsafe-inline'` because Svelte sets inline styles.
const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
                   style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; \
                   frame-ancestors 'none'; base-uri 'none'";

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on. Port 0 picks a free port. Anything other than a
    /// loopback address exposes the API to the network (still token-protected).
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "HOST:PORT")]
    addr: SocketAddr,
}

#[derive(rust_embed::RustEmbed)]
#[folder = "../../ui/dist"]
#[allow_missing = true]
struct UiAssets;

struct Server {
    core: Core,
    token: String,
    /// `host:port` values a request may name in Host / Origin.
    allowed_hosts: Vec<String>,
}

pub fn run(data_dir: Option<PathBuf>, args: ServeArgs) -> Result<(), CliError> {
    crate::init_logging("info");
    let core = crate::open_core(data_dir, slipway_core::api::Host::Serve)?;
    crate::runtime()?.block_on(serve(core, args.addr))
}

async fn serve(core: Core, addr: SocketAddr) -> Result<(), CliError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        CliError::Failed(format!(
            "cannot listen on {addr}: {e} (pass --addr 127.0.0.1:0 to pick a free port)"
        ))
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::Failed(format!("cannot read the bound address: {e}")))?;
    if !local.ip().is_loopback() {
        tracing::warn!(%local, "listening beyond this machine: anyone who has the token can use the API");
    }
    // Serve hosts the data directory's engine (and watches the
    // repositories) unless another process does.
    let engine = match core.run_engine().await? {
        Some(engine) => Some(engine),
        None => {
            tracing::info!("another process is the engine; runs go to it");
            None
        }
    };
    let token = new_token()?;
    let port = local.port();
    let mut allowed_hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    if local.ip().is_ipv6() {
        allowed_hosts.push(format!("[::1]:{port}"));
    }
    allowed_hosts.push(local.to_string());
    let server = Arc::new(Server {
        core,
        token: token.clone(),
        allowed_hosts,
    });

    // The first line on stdout is the URL to open: scripts and tests read it.
    let shown_host = if local.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        local.ip().to_string()
    };
    let shown = if local.ip().is_ipv6() {
        format!("[{shown_host}]:{port}")
    } else {
        format!("{shown_host}:{port}")
    };
    // Installed before the URL is printed: whoever reads it may stop us.
    let shutdown = shutdown_signal();
    println!("http://{shown}/#token={token}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    tracing::info!(data_dir = %server.core.data_dir().display(), "slipway serve is ready");

    axum::serve(listener, router(server))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| CliError::Failed(format!("the server stopped: {e}")))?;
    if let Some(engine) = &engine {
        engine.shut_down().await;
    }
    tracing::info!("slipway serve stopped");
    Ok(())
}

fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/api/events", get(events))
        .route("/api/{command}", post(call))
        .fallback(get(static_file))
        .with_state(server)
}

/// 32 random bytes, hex: unguessable, and safe in a URL fragment.
fn new_token() -> Result<String, CliError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| CliError::Failed(format!("cannot read the OS random source: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Resolves on Ctrl-C or SIGTERM. The SIGTERM handler is installed when
/// this is called (not when first polled), so a SIGTERM right after the URL
/// is printed still stops the server cleanly.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async {
            match term.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    }
}

/// Why a request is refused before it reaches the command table.
type Refusal = (StatusCode, ApiError);

fn error_response(status: StatusCode, err: ApiError) -> Response {
    (status, Json(err)).into_response()
}

fn status_for(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::UnknownCommand | ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::InvalidRequest | ErrorCode::InvalidInput | ErrorCode::NotARepository => {
            StatusCode::BAD_REQUEST
        }
        ErrorCode::AlreadyExists | ErrorCode::AlreadyFinished | ErrorCode::Untrusted => {
            StatusCode::CONFLICT
        }
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::ForbiddenOrigin => StatusCode::FORBIDDEN,
        ErrorCode::NoEngine => StatusCode::SERVICE_UNAVAILABLE,
        // The request was fine; it needs the user's MFA code to go on.
        ErrorCode::MfaRequired => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Credentials => StatusCode::BAD_GATEWAY,
        // Carried out and failed: the request was fine, the work was not.
        ErrorCode::Failed => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Io | ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Compares without an early exit, so the time taken says nothing about how
/// much of a guessed token was right.
fn same_token(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

impl Server {
    /// Refuses requests naming a foreign Host (DNS rebinding) or sent by a
    /// page of another origin (a browser always sends Origin on such calls).
    fn check_origin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let forbidden = |what: String| {
            (
                StatusCode::FORBIDDEN,
                ApiError::new(ErrorCode::ForbiddenOrigin, what),
            )
        };
        if let Some(host) = headers.get(header::HOST) {
            let host = host.to_str().unwrap_or("");
            if !self.allowed_hosts.iter().any(|h| h == host) {
                return Err(forbidden(format!("requests for host `{host}` are refused")));
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let ok = origin
                .strip_prefix("http://")
                .is_some_and(|hp| self.allowed_hosts.iter().any(|h| h == hp));
            if !ok {
                return Err(forbidden(format!(
                    "calls from pages of origin `{origin}` are refused"
                )));
            }
        }
        Ok(())
    }

    fn check_token(&self, headers: &HeaderMap, query_token: Option<&str>) -> Result<(), Refusal> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match bearer.or(query_token) {
            Some(t) if same_token(t, &self.token) => Ok(()),
            Some(_) => Err((
                StatusCode::UNAUTHORIZED,
                ApiError::new(ErrorCode::Unauthorized, "wrong token: use the URL `slipway serve` printed"),
            )),
            None => Err((
                StatusCode::UNAUTHORIZED,
                ApiError::new(
                    ErrorCode::Unauthorized,
                    "missing token: send `Authorization: Bearer <token>` (the token is in the URL `slipway serve` printed)",
                ),
            )),
        }
    }
}

async fn call(
    State(server): State<Arc<Server>>,
    Path(command): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err((status, err)) = server
        .check_origin(&headers)
        .and_then(|_| server.check_token(&headers, None))
    {
        return error_response(status, err);
    }
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    ApiError::invalid_request(&command, format!("the body is not JSON: {e}")),
                )
            }
        }
    };
    match server.core.call(&command, request).await {
        Ok(value) => Json(value).into_response(),
        Err(err) => error_response(status_for(err.code), err),
    }
}

#[derive(serde::Deserialize)]
struct EventsQuery {
    token: Option<String>,
}

/// Server-sent events. The browser's EventSource cannot set headers, so the
/// token may also come as `?token=`.
async fn events(
    State(server): State<Arc<Server>>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err((status, err)) = server
        .check_origin(&headers)
        .and_then(|_| server.check_token(&headers, query.token.as_deref()))
    {
        return error_response(status, err);
    }
    Sse::new(event_stream(&server.core))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

fn event_stream(core: &Core) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    BroadcastStream::new(core.subscribe()).filter_map(|item| async move {
        match item {
            Ok(event) => SseEvent::default().json_data(&event).ok().map(Ok),
            // A listener that fell behind is told so; the UI then refetches.
            Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                Some(Ok(SseEvent::default().event("lagged").data(n.to_string())))
            }
        }
    })
}

/// The built UI; any path that is not a file is the single-page app's.
async fn static_file(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (path, file) =
        match UiAssets::get(path) {
            Some(file) if !path.is_empty() => (path, file),
            _ => match UiAssets::get("index.html") {
                Some(file) => ("index.html", file),
                None => return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The Slipway UI is not built into this binary: run `make ui`, then rebuild.",
                )
                    .into_response(),
            },
        };
    let mime = file.metadata.mimetype().to_string();
    let mut response = (StatusCode::OK, file.data.into_owned()).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if path == "index.html" {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
