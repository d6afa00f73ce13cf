//! The `local` provider's traffic router, with real sockets on 127.0.0.1:
//! small hyper backends answering their own name, and clients that hold
//! their keep-alive connection to the router like a browser would.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use slipway_core::deploy::router::{Backend, BackendSet, Router, RouterError, SET_HEADER};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};

/// A guard against a hang, never an expectation about speed.
const HANG_GUARD: Duration = Duration::from_secs(20);

// ---- fixtures -------------------------------------------------------------

/// A sample service instance: answers `GET /` with its name, `/status/N`
/// with status N, `/stream` with one chunk, then (once `release` is
/// notified) a second. Counts requests and accepted connections.
struct Instance {
    name: String,
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    release: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn instance(name: &str) -> Instance {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let connections = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Notify::new());
    let (n, r, c, rel) = (
        name.to_owned(),
        requests.clone(),
        connections.clone(),
        release.clone(),
    );
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            let (n, r, rel) = (n.clone(), r.clone(), rel.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    r.fetch_add(1, Ordering::SeqCst);
                    answer(req, n.clone(), rel.clone())
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Instance {
        name: name.to_owned(),
        addr,
        requests,
        connections,
        release,
        task,
    }
}

/// A response body fed chunk by chunk through a channel.
struct Chunks(mpsc::Receiver<Bytes>);

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
    }
}

type TestBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

async fn answer(
    req: Request<Incoming>,
    name: String,
    release: Arc<Notify>,
) -> Result<Response<TestBody>, Infallible> {
    let path = req.uri().path().to_owned();
    // Drain whatever was sent, so a POST body travels through the router.
    let _ = req.into_body().collect().await;
    if path == "/stream" {
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(async move {
            let _ = tx.send(Bytes::from_static(b"first;")).await;
            release.notified().await;
            let _ = tx.send(Bytes::from_static(b"second")).await;
        });
        return Ok(Response::new(Chunks(rx).boxed()));
    }
    let status = path
        .strip_prefix("/status/")
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = Response::new(Full::new(Bytes::from(name)).boxed());
    *response.status_mut() = status;
    Ok(response)
}

fn set(name: &str, weight: u32, instances: &[&Instance]) -> BackendSet {
    BackendSet {
        name: name.to_owned(),
        weight,
        backends: instances.iter().map(|i| Backend::new(i.addr)).collect(),
    }
}

async fn router() -> Router {
    Router::start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// One keep-alive client connection to the router.
struct Client {
    send: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

struct Answer {
    status: StatusCode,
    set: Option<String>,
    body: String,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        Client { send }
    }

    async fn request(&mut self, method: Method, path: &str, body: &'static str) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "app.local")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap();
        let response = tokio::time::timeout(HANG_GUARD, self.send.send_request(request))
            .await
            .expect("router answers")
            .unwrap();
        let status = response.status();
        let set = response
            .headers()
            .get(SET_HEADER)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            set,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        self.request(Method::GET, path, "").await
    }
}

/// How many of `n` GETs each backend answered, by body.
async fn tally(client: &mut Client, n: usize) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        let answer = client.get("/").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        *seen.entry(answer.body).or_default() += 1;
    }
    seen
}

// ---- balancing ------------------------------------------------------------

#[tokio::test]
async fn requests_go_round_robin_across_a_set() {
    let (a, b, c) = (
        instance("v1-a").await,
        instance("v1-b").await,
        instance("v1-c").await,
    );
    let router = router().await;
    router
        .set_sets(vec![set("blue", 100, &[&a, &b, &c])])
        .unwrap();
    let mut client = Client::connect(router.local_addr()).await;

    let seen = tally(&mut client, 30).await;
    assert_eq!(
        seen,
        BTreeMap::from([
            (a.name.clone(), 10),
            (b.name.clone(), 10),
            (c.name.clone(), 10)
        ])
    );
    let answer = client.get("/").await;
    assert_eq!(answer.set.as_deref(), Some("blue"));
    router.stop().await;
}

#[tokio::test]
async fn a_canary_at_ten_percent_gets_ten_percent_of_2000_requests() {
    let (v1a, v1b, v2) = (
        instance("v1").await,
        instance("v1").await,
        instance("v2").await,
    );
    let router = router().await;
    router
        .set_sets(vec![
            set("blue", 90, &[&v1a, &v1b]),
            set("canary", 10, &[&v2]),
        ])
        .unwrap();
    let mut client = Client::connect(router.local_addr()).await;

    let mut from_canary = 0;
    for _ in 0..2000 {
        let answer = client.get("/").await;
        assert_eq!(answer.status, StatusCode::OK);
        // The header names the set that really answered.
        let expected = if answer.body == "v2" {
            "canary"
        } else {
            "blue"
        };
        assert_eq!(answer.set.as_deref(), Some(expected));
        from_canary += usize::from(answer.body == "v2");
    }
    assert!(
        (140..=260).contains(&from_canary),
        "canary answered {from_canary} of 2000"
    );
    let stats = router.stats();
    assert_eq!(stats.sets["canary"].status_2xx, from_canary as u64);
    assert_eq!(stats.total.status_2xx, 2000);
    router.stop().await;
}

#[tokio::test]
async fn switching_sets_while_clients_hammer_loses_no_request() {
    let (blue, green) = (instance("v1").await, instance("v2").await);
    let router = router().await;
    router
        .set_sets(vec![set("blue", 100, &[&blue]), set("green", 0, &[&green])])
        .unwrap();
    let addr = router.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let stop = stop.clone();
        clients.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            let (mut ok, mut failed) = (0u64, 0u64);
            while !stop.load(Ordering::SeqCst) {
                match client.get("/").await.status {
                    StatusCode::OK => ok += 1,
                    _ => failed += 1,
                }
            }
            (ok, failed)
        }));
    }
    // Flip all the weight back and forth, as blue/green and its rollback do.
    for round in 0..40 {
        while blue.requests.load(Ordering::SeqCst) + green.requests.load(Ordering::SeqCst)
            < 50 * (round + 1)
        {
            tokio::task::yield_now().await;
        }
        let (b, g) = if round % 2 == 0 { (0, 100) } else { (100, 0) };
        router
            .set_sets(vec![set("blue", b, &[&blue]), set("green", g, &[&green])])
            .unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    let (mut ok, mut failed) = (0, 0);
    for client in clients {
        let (o, f) = client.await.unwrap();
        ok += o;
        failed += f;
    }
    assert_eq!(failed, 0);
    assert!(ok >= 2000, "only {ok} requests were made");
    let stats = router.stats();
    assert_eq!(stats.total.status_2xx, ok);
    assert_eq!(stats.total.errors(), 0);
    assert!(stats.sets["blue"].status_2xx > 0 && stats.sets["green"].status_2xx > 0);
    assert_eq!(
        blue.requests.load(Ordering::SeqCst) + green.requests.load(Ordering::SeqCst),
        ok as usize
    );
    println!("switch under load: {ok} requests, 0 failed, 40 switches");
    router.stop().await;
}

#[tokio::test]
async fn an_instance_out_of_service_gets_no_new_requests() {
    let (a, b, c) = (
        instance("a").await,
        instance("b").await,
        instance("c").await,
    );
    let router = router().await;
    router
        .set_sets(vec![set("blue", 100, &[&a, &b, &c])])
        .unwrap();
    let mut client = Client::connect(router.local_addr()).await;
    tally(&mut client, 3).await;

    router.set_in_service(b.addr, false).unwrap();
    let before = b.requests.load(Ordering::SeqCst);
    let seen = tally(&mut client, 40).await;
    assert_eq!(seen.get("b"), None);
    assert_eq!((seen["a"], seen["c"]), (20, 20));
    assert_eq!(b.requests.load(Ordering::SeqCst), before);
    assert!(!router.sets()[0].backends[1].in_service);

    // Back in service after its update: it shares the load again.
    router.set_in_service(b.addr, true).unwrap();
    assert!(tally(&mut client, 30).await["b"] >= 9);
    // An address the router does not know is an error, not a silent no-op.
    let unknown = "127.0.0.1:1".parse().unwrap();
    assert!(matches!(
        router.set_in_service(unknown, false),
        Err(RouterError::UnknownBackend { addr }) if addr == unknown
    ));
    router.stop().await;
}

// ---- HTTP -----------------------------------------------------------------

#[tokio::test]
async fn one_client_connection_carries_many_requests_and_backend_connections_are_reused() {
    let backend = instance("v1").await;
    let router = router().await;
    router.set_sets(vec![set("blue", 1, &[&backend])]).unwrap();
    let mut client = Client::connect(router.local_addr()).await;

    for i in 0..200 {
        let answer = if i % 2 == 0 {
            client.get("/").await
        } else {
            client
                .request(Method::POST, "/", "a body the backend reads")
                .await
        };
        assert_eq!(answer.status, StatusCode::OK);
    }
    assert_eq!(backend.requests.load(Ordering::SeqCst), 200);
    // Pooled keep-alive to the backend: not a connection per request.
    let connections = backend.connections.load(Ordering::SeqCst);
    assert!(
        connections <= 5,
        "{connections} backend connections for 200 requests"
    );
    router.stop().await;
}

async fn next_chunk(body: &mut Incoming) -> Bytes {
    let frame = tokio::time::timeout(HANG_GUARD, body.frame())
        .await
        .expect("a chunk arrives");
    frame.unwrap().unwrap().into_data().unwrap()
}

#[tokio::test]
async fn a_streaming_response_reaches_the_client_chunk_by_chunk() {
    let backend = instance("v1").await;
    let router = router().await;
    router.set_sets(vec![set("blue", 1, &[&backend])]).unwrap();
    let mut client = Client::connect(router.local_addr()).await;

    let request = Request::get("/stream")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = client.send.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    // The backend holds its second chunk until we have seen the first: a
    // router that buffered the body would never deliver it.
    assert_eq!(next_chunk(&mut body).await, "first;");
    backend.release.notify_one();
    assert_eq!(next_chunk(&mut body).await, "second");
    router.stop().await;
}

#[tokio::test]
async fn without_a_backend_in_service_the_router_answers_503() {
    let backend = instance("v1").await;
    let router = router().await;
    let mut client = Client::connect(router.local_addr()).await;

    // Nothing configured yet.
    let answer = client.get("/").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body, "no backend in service\n");

    // Configured, but its only instance is out of service.
    router.set_sets(vec![set("blue", 1, &[&backend])]).unwrap();
    router.set_in_service(backend.addr, false).unwrap();
    assert_eq!(
        client.get("/").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(backend.requests.load(Ordering::SeqCst), 0);
    assert_eq!(router.stats().total.unavailable, 2);
    assert_eq!(router.error_rate(Duration::from_secs(60)), 1.0);
    router.stop().await;
}

async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
    // Dropped: connections to it are refused.
}

#[tokio::test]
async fn a_backend_that_is_down_gives_502_counted_for_the_alarm() {
    let router = router().await;
    let down = dead_addr().await;
    router
        .set_sets(vec![BackendSet {
            name: "blue".into(),
            weight: 1,
            backends: vec![Backend::new(down)],
        }])
        .unwrap();
    let mut client = Client::connect(router.local_addr()).await;

    for _ in 0..4 {
        let answer = client.get("/").await;
        assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
        assert_eq!(answer.set.as_deref(), Some("blue"));
    }
    let stats = router.stats();
    assert_eq!(stats.sets["blue"].proxy_errors, 4);
    assert_eq!(stats.total.proxy_errors, 4);
    assert_eq!(router.error_rate(Duration::from_secs(60)), 1.0);
    assert_eq!(
        router.set_error_rate("blue", Duration::from_secs(60)),
        Some(1.0)
    );
    assert_eq!(
        router.set_error_rate("green", Duration::from_secs(60)),
        None
    );
    router.stop().await;
}

#[tokio::test]
async fn only_requests_without_effect_are_retried_on_another_instance() {
    let alive = instance("alive").await;
    let router = router().await;
    let down = dead_addr().await;
    router
        .set_sets(vec![BackendSet {
            name: "blue".into(),
            weight: 1,
            backends: vec![Backend::new(down), Backend::new(alive.addr)],
        }])
        .unwrap();
    let mut client = Client::connect(router.local_addr()).await;

    // Round-robin starts on the dead instance: the POST is not retried.
    let post = client.request(Method::POST, "/orders", "{}").await;
    assert_eq!(post.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        client.request(Method::POST, "/orders", "{}").await.status,
        StatusCode::OK
    );
    // GETs that land on the dead instance are moved to the live one.
    for _ in 0..4 {
        assert_eq!(client.get("/").await.body, "alive");
    }
    assert_eq!(router.stats().total.proxy_errors, 1);
    assert_eq!(router.stats().total.status_2xx, 5);
    router.stop().await;
}

#[tokio::test]
async fn responses_are_counted_by_status_class_per_set() {
    let (v1, v2) = (instance("v1").await, instance("v2").await);
    let router = router().await;
    router.set_sets(vec![set("blue", 1, &[&v1])]).unwrap();
    let mut client = Client::connect(router.local_addr()).await;
    for path in ["/", "/", "/status/302", "/status/404", "/status/500"] {
        client.get(path).await;
    }
    // The canary keeps its own counts; blue's carry over the switch.
    router
        .set_sets(vec![set("blue", 1, &[&v1]), set("canary", 1, &[&v2])])
        .unwrap();
    let mut by_set = BTreeMap::<String, usize>::new();
    for _ in 0..4 {
        let answer = client.get("/status/503").await;
        *by_set.entry(answer.set.unwrap()).or_default() += 1;
    }
    assert_eq!(
        by_set,
        BTreeMap::from([("blue".into(), 2), ("canary".into(), 2)])
    );

    let stats = router.stats();
    let blue = stats.sets["blue"];
    assert_eq!(
        (
            blue.status_2xx,
            blue.status_3xx,
            blue.status_4xx,
            blue.status_5xx
        ),
        (2, 1, 1, 3)
    );
    assert_eq!(stats.sets["canary"].status_5xx, 2);
    assert_eq!(stats.total.requests(), 9);
    assert_eq!(stats.total.errors(), 5);
    assert_eq!(router.error_rate(Duration::from_secs(60)), 5.0 / 9.0);
    assert_eq!(
        router.set_error_rate("canary", Duration::from_secs(60)),
        Some(1.0)
    );
    router.stop().await;
}

// ---- lifecycle ------------------------------------------------------------

#[tokio::test]
async fn a_listen_address_in_use_is_refused_by_name_and_stop_frees_it() {
    let router = router().await;
    let addr = router.local_addr();
    let err = Router::start(addr).await.err().expect("address in use");
    assert!(matches!(err, RouterError::AddressInUse { addr: a } if a == addr));
    assert!(err.to_string().contains(&addr.to_string()), "{err}");

    let duplicate = vec![
        BackendSet::new("blue", 1, [1]),
        BackendSet::new("blue", 1, [2]),
    ];
    assert!(
        matches!(router.set_sets(duplicate), Err(RouterError::DuplicateSet { name }) if name == "blue")
    );

    router.stop().await;
    let again = Router::start(addr)
        .await
        .expect("the address is free after stop");
    again.stop().await;
}
