//! One request through the router: choose a set and a backend from the
//! current table, forward with hyper's pooled client, stream the response
//! back, count the outcome.
//!
//! Bodies are never buffered: the request body goes to the backend as it
//! arrives and the response body comes back the same way. A request is
//! retried on another backend of the same set only when it cannot have had
//! an effect: an idempotent method, no body, and a connection that was
//! never established.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full};
use hyper::body::{Body, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::{connect::HttpConnector, Client};

use super::stats::Outcome;
use super::Shared;

/// The body type both ways: whatever hyper streams in, or the router's own
/// short text.
pub(crate) type ProxyBody = UnsyncBoxBody<Bytes, hyper::Error>;

pub(crate) type BackendClient = Client<HttpConnector, ProxyBody>;

/// The response header naming the set that answered.
pub const SET_HEADER: &str = "x-slipway-set";

/// How many backends one idempotent, body-less request may try.
const MAX_ATTEMPTS: usize = 3;

pub(crate) fn backend_client() -> BackendClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(hyper_util::rt::TokioExecutor::new())
        // Backends are local instances that come and go with deployments:
        // keep idle connections long enough for steady traffic, not forever.
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .build(connector)
}

pub(crate) async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    shared: Arc<Shared>,
) -> Result<Response<ProxyBody>, Infallible> {
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
    append_forwarded_for(&mut parts.headers, peer);
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let retryable = is_idempotent(&parts.method) && body.is_end_stream();
    let mut body = Some(body.boxed_unsync());
    let mut tried: Vec<SocketAddr> = Vec::new();

    let outcome = loop {
        let Some(addr) = set.choose_backend(&tried) else {
            // None left: report the last failure, if any backend was tried.
            break Err(tried.last().copied());
        };
        tried.push(addr);
        let Ok(uri) = Uri::try_from(format!("http://{addr}{path}")) else {
            return Ok(text(StatusCode::BAD_REQUEST, "bad request target\n"));
        };
        let mut upstream = Request::new(
            body.take()
                .unwrap_or_else(|| Empty::new().map_err(|n| match n {}).boxed_unsync()),
        );
        *upstream.method_mut() = parts.method.clone();
        *upstream.uri_mut() = uri;
        *upstream.version_mut() = Version::HTTP_11;
        // Only a retryable request needs its headers again.
        *upstream.headers_mut() = if retryable {
            parts.headers.clone()
        } else {
            std::mem::take(&mut parts.headers)
        };
        match shared.client.request(upstream).await {
            Ok(response) => break Ok(response),
            Err(e) => {
                tracing::warn!(backend = %addr, set = %set.name, error = %e, "router: backend failed");
                if !(retryable && e.is_connect() && tried.len() < MAX_ATTEMPTS) {
                    break Err(Some(addr));
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

fn append_forwarded_for(headers: &mut HeaderMap, peer: SocketAddr) {
    if let Ok(value) = HeaderValue::from_str(&peer.ip().to_string()) {
        headers.append(HeaderName::from_static("x-forwarded-for"), value);
    }
}
