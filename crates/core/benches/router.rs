//! Router overhead, side by side in one run (BENCHMARKS.md, "Traffic router"): the
//! same static nginx backend under the same `wrk -t1 -c8 -d10s` load,
//! direct, through nginx as a reverse proxy with upstream keep-alive, and
//! through Slipway's router; then the switch time (from `set_sets` to the
//! first response from the new set) while clients keep the router busy.
//!
//! Symmetric: the backend is its own nginx (own master and workers), so
//! both proxies cross to another process for every request, and the proxy
//! runs and the router runs alternate, ROUNDS times (default 3, the order
//! flipped each round), so slow minutes of a shared machine fall on both.
//!
//! Needs `nginx` and `wrk` on PATH (Debian: `apt-get install nginx-light
//! wrk`); not part of `make test`. Every nginx it starts is stopped when it
//! ends, panics included. Run:
//! `cargo bench -p slipway-core --bench router` (WRK_DURATION=10s to
//! change the length of each wrk run, ROUNDS=3 the number of pairs).

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use slipway_core::deploy::router::{Backend, BackendSet, Router, SET_HEADER};

/// nginx under our own prefix, killed on drop.
struct Nginx {
    child: Child,
    prefix: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // Ask the master to stop: it takes its workers down with it (a
        // SIGKILL to the master alone would orphan them).
        let stopped = Command::new("nginx")
            .arg("-p")
            .arg(&self.prefix)
            .arg("-c")
            .arg(self.prefix.join("nginx.conf"))
            .args(["-s", "stop"])
            .stderr(Stdio::null())
            .status();
        if !stopped.is_ok_and(|s| s.success()) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.prefix);
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts an nginx under `prefix` serving `servers` (what goes inside its
/// `http {}` block) and waits until it listens on `port`.
fn start_nginx(prefix: &Path, servers: &str, port: u16) -> Nginx {
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    let conf = format!(
        r#"worker_processes auto;
error_log {p}/logs/error.log warn;
pid {p}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {p}/body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    keepalive_requests 1000000;
{servers}
}}
"#,
        p = prefix.display()
    );
    let conf_path = prefix.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(&conf_path)
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .spawn()
        .expect("nginx on PATH (apt-get install nginx-light)");
    let nginx = Nginx {
        child,
        prefix: prefix.to_owned(),
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    nginx
}

/// The backend: a static answer, in its own nginx.
fn start_backend(prefix: &Path, port: u16) -> Nginx {
    let servers = format!(
        r#"    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "hello from the backend\n"; }}
    }}"#
    );
    start_nginx(prefix, &servers, port)
}

/// nginx as a reverse proxy to `backend`, with upstream keep-alive.
fn start_proxy(prefix: &Path, backend: u16, port: u16) -> Nginx {
    let servers = format!(
        r#"    upstream backend {{ server 127.0.0.1:{backend}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}"#
    );
    start_nginx(prefix, &servers, port)
}

struct WrkResult {
    p50_ms: f64,
    p99_ms: f64,
    rps: f64,
    non_2xx: u64,
}

fn to_ms(s: &str) -> f64 {
    let (num, scale) = if let Some(n) = s.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (s, 1.0)
    };
    num.parse::<f64>().unwrap_or(f64::NAN) * scale
}

fn wrk(port: u16, duration: &str) -> WrkResult {
    let out = Command::new("wrk")
        .args(["-t1", "-c8", "-d", duration, "--latency"])
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .expect("wrk on PATH (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix).map(|r| r.trim().to_owned()))
    };
    let non_2xx = field("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    WrkResult {
        p50_ms: field("50%").map_or(f64::NAN, |v| to_ms(&v)),
        p99_ms: field("99%").map_or(f64::NAN, |v| to_ms(&v)),
        rps: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN),
        non_2xx,
    }
}

fn sets(backend: SocketAddr, blue: u32, green: u32) -> Vec<BackendSet> {
    ["blue", "green"]
        .into_iter()
        .zip([blue, green])
        .map(|(name, weight)| BackendSet {
            name: name.into(),
            weight,
            backends: vec![Backend::new(backend)],
        })
        .collect()
}

/// Switch all weight to the other set `rounds` times while 8 keep-alive
/// clients hammer the router; each time, how long until some client got
/// its first response from the new set.
async fn switch_times(router: &Router, backend: SocketAddr, rounds: usize) -> Vec<Duration> {
    let addr = router.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    // The set each client saw last, with when it saw the change.
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (stop, seen_tx) = (stop.clone(), seen_tx.clone());
        clients.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .unwrap();
            tokio::spawn(conn);
            let mut last = String::new();
            while !stop.load(Ordering::SeqCst) {
                let req = Request::get("/").body(Empty::<Bytes>::new()).unwrap();
                let response = send.send_request(req).await.unwrap();
                let set = response.headers()[SET_HEADER].to_str().unwrap().to_owned();
                let _ = response.into_body().collect().await;
                if set != last {
                    let _ = seen_tx.send((set.clone(), Instant::now()));
                    last = set;
                }
            }
        }));
    }
    drop(seen_tx);
    let mut times = Vec::new();
    for round in 0..rounds {
        tokio::time::sleep(Duration::from_millis(50)).await;
        while seen_rx.try_recv().is_ok() {}
        let (to, weights) = if round % 2 == 0 {
            ("green", (0, 100))
        } else {
            ("blue", (100, 0))
        };
        let switched = Instant::now();
        router
            .set_sets(sets(backend, weights.0, weights.1))
            .unwrap();
        loop {
            let (set, at) = seen_rx.recv().await.unwrap();
            if set == to && at >= switched {
                times.push(at - switched);
                break;
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }
    times
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not run us.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let duration = std::env::var("WRK_DURATION").unwrap_or_else(|_| "10s".into());
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    let prefix = std::env::temp_dir().join(format!("slipway-router-bench-{}", std::process::id()));
    let (backend_port, nginx_port, router_port) = (free_port(), free_port(), free_port());
    let backend_nginx = start_backend(&prefix.join("backend"), backend_port);
    let proxy_nginx = start_proxy(&prefix.join("proxy"), backend_port, nginx_port);
    let backend = SocketAddr::from(([127, 0, 0, 1], backend_port));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let router = runtime.block_on(async {
        let router = Router::start(SocketAddr::from(([127, 0, 0, 1], router_port)))
            .await
            .unwrap();
        router.set_sets(sets(backend, 100, 0)).unwrap();
        router
    });

    println!("wrk -t1 -c8 -d{duration} --latency; the backend in its own nginx; {rounds} rounds");
    println!("| round | path | p50 ms | p99 ms | req/s | non-2xx |");
    println!("|---|---|---:|---:|---:|---:|");
    let row = |round: &str, name: &str, r: &WrkResult| {
        println!(
            "| {round} | {name} | {:.3} | {:.3} | {:.0} | {} |",
            r.p50_ms, r.p99_ms, r.rps, r.non_2xx
        );
    };
    row(
        "-",
        "direct (nginx static backend)",
        &wrk(backend_port, &duration),
    );
    let (mut p50, mut p99, mut rps) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let mut pair = [
            ("nginx reverse proxy, upstream keepalive", nginx_port),
            ("Slipway router", router_port),
        ];
        if round % 2 == 1 {
            pair.reverse();
        }
        let mut results = Vec::new();
        for (name, port) in pair {
            let r = wrk(port, &duration);
            row(&(round + 1).to_string(), name, &r);
            results.push((port, r));
        }
        let of = |port: u16| &results.iter().find(|(p, _)| *p == port).unwrap().1;
        let (ng, sw) = (of(nginx_port), of(router_port));
        p50.push(sw.p50_ms / ng.p50_ms);
        p99.push(sw.p99_ms / ng.p99_ms);
        rps.push(sw.rps / ng.rps);
        println!(
            "round {}: Slipway / nginx p50 {:.2}x, p99 {:.2}x, req/s {:.2}x",
            round + 1,
            p50[round],
            p99[round],
            rps[round]
        );
    }
    println!(
        "Slipway / nginx, median of {rounds} rounds: p50 {:.2}x, p99 {:.2}x, req/s {:.2}x",
        median(p50),
        median(p99),
        median(rps)
    );

    let mut times = runtime.block_on(switch_times(&router, backend, 40));
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "switch time over {} switches under load (8 clients): median {:.3} ms, max {:.3} ms",
        times.len(),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
    let stats = router.stats();
    println!(
        "router totals: {} requests, {} errors",
        stats.total.requests(),
        stats.total.errors()
    );
    runtime.block_on(router.stop());
    drop(proxy_nginx);
    drop(backend_nginx);
    let _ = std::fs::remove_dir_all(&prefix);
}
