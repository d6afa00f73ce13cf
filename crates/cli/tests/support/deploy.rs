//! Deployments' fixtures: the sample service, an environment hosted by a
//! real `slipway watch`, a keep-alive HTTP client and a client that hammers
//! the router while a deployment runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Repo, World};

/// The sample service: HTTP/1.1 with keep-alive, answers its `version` file
/// on `/` (with the status in its `status` file, 200 if none), and on
/// `/healthz` the status in its `health` file (200 if none).
pub const SERVER: &str = r#"
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = True
    def do_GET(self):
        if self.path == '/healthz':
            try:
                code = int(open('health').read().strip())
            except Exception:
                code = 200
            body = b'ok'
        else:
            try:
                code = int(open('status').read().strip())
            except Exception:
                code = 200
            body = open('version', 'rb').read().strip()
        self.send_response(code)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
"#;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A world with the sample app at v1 and an engine hosting it.
pub struct Env {
    pub world: World,
    pub repo: Repo,
    pub port: u16,
    pub engine: Option<Child>,
    /// The engine's stdout, read for as long as it runs (a closed pipe
    /// would end it at its next line).
    _lines: Option<std::sync::mpsc::Receiver<String>>,
}

impl Env {
    /// The repository `shop` with the sample app (at v0) under `app/`,
    /// the pipeline `web` that `pipeline(port)` writes, and `files`; an
    /// engine (`slipway watch`) hosts it.
    pub fn with(pipeline: impl Fn(u16) -> String, files: &[(&str, &str)]) -> Env {
        Env::in_world(World::new(), pipeline, files)
    }

    /// [`Env::with`] in `world` (e.g. one whose processes get extra
    /// variables, the engine among them).
    pub fn in_world(world: World, pipeline: impl Fn(u16) -> String, files: &[(&str, &str)]) -> Env {
        let port = free_port();
        let pipeline = pipeline(port);
        let mut all = vec![
            (".slipway/web.yml", pipeline.as_str()),
            ("app/server.py", SERVER),
            ("app/version", "v0"),
        ];
        all.extend_from_slice(files);
        let repo = world.repo("shop", &all);
        let mut env = Env {
            world,
            repo,
            port,
            engine: None,
            _lines: None,
        };
        env.start_engine();
        env
    }

    /// `slipway watch` becomes the data directory's engine; it serves the
    /// environments once it says it is ready.
    pub fn start_engine(&mut self) {
        let (child, lines) = super::start_watch(&self.world);
        self.engine = Some(child);
        self._lines = Some(lines);
    }

    /// Commits `version` (and the files given) and runs the pipeline to its
    /// end through the hosting engine; returns whether it succeeded.
    pub fn release(&self, version: &str, files: &[(&str, &str)]) -> bool {
        let mut all = vec![("app/version", version)];
        all.extend_from_slice(files);
        self.repo.commit(&all, &format!("release {version}"));
        let out = self.world.run(&["run", "shop/web", "--wait"]);
        if !out.status.success() {
            eprintln!(
                "the {version} run failed:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        out.status.success()
    }

    pub fn deployments(&self) -> Vec<serde_json::Value> {
        self.world
            .json(&["deployments", "staging", "--json"])
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn serves(&self) -> Option<String> {
        let mut conn = None;
        get(&mut conn, self.port).ok().map(|(_, body)| body)
    }

    /// Waits until every one of 20 requests gets `version`.
    pub fn wait_serving(&self, version: &str) {
        self.world
            .wait_until(&format!("the router to serve {version}"), || {
                let mut conn = None;
                (0..20)
                    .all(|_| matches!(get(&mut conn, self.port), Ok((200, ref b)) if b == version))
            });
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(mut child) = self.engine.take() {
            // SIGTERM lets the engine stop its instances.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One GET / over a kept-alive connection (reconnecting when needed):
/// `(status, body)`, or what went wrong.
pub fn get(conn: &mut Option<BufReader<TcpStream>>, port: u16) -> Result<(u16, String), String> {
    if conn.is_none() {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        *conn = Some(BufReader::new(stream));
    }
    let result = (|| {
        let reader = conn.as_mut().unwrap();
        reader
            .get_mut()
            .write_all(b"GET / HTTP/1.1\r\nHost: app\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut status_line = String::new();
        reader
            .read_line(&mut status_line)
            .map_err(|e| e.to_string())?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no status line: {status_line:?}"))?;
        let mut length = 0usize;
        let mut close = false;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).map_err(|e| e.to_string())?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        Ok((status, String::from_utf8_lossy(&body).into_owned(), close))
    })();
    match result {
        Ok((status, body, close)) => {
            if close {
                *conn = None;
            }
            Ok((status, body))
        }
        Err(e) => {
            *conn = None;
            Err(e)
        }
    }
}

/// A client sending requests back to back until stopped.
pub struct Hammer {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Tally>,
}

#[derive(Debug, Default)]
pub struct Tally {
    pub requests: u64,
    pub failures: u64,
    pub first_failures: Vec<String>,
    /// The versions answered, each change once.
    pub versions: Vec<String>,
}

impl Hammer {
    pub fn start(port: u16) -> Hammer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut tally = Tally::default();
            let mut conn = None;
            while !flag.load(Ordering::SeqCst) {
                tally.requests += 1;
                match get(&mut conn, port) {
                    Ok((200, body)) => {
                        if tally.versions.last() != Some(&body) {
                            tally.versions.push(body);
                        }
                    }
                    other => {
                        tally.failures += 1;
                        if tally.first_failures.len() < 5 {
                            tally.first_failures.push(format!("{other:?}"));
                        }
                    }
                }
            }
            tally
        });
        Hammer { stop, thread }
    }

    pub fn finish(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// The pipeline `web`: package `app/`, then deploy it to `staging` (local,
/// `instances`, listening on `port`; `env_extra` adds to the environment,
/// e.g. its strategy), `stage_head` to the Deploy stage and `stage_extra`
/// actions after the deploy action.
pub fn pipeline(
    port: u16,
    instances: u32,
    env_extra: &str,
    stage_head: &str,
    stage_extra: &str,
) -> String {
    format!(
        r#"version: 1
name: web
environments:
  staging:
    provider: local
    instances: {instances}
    listen: 127.0.0.1:{port}
    run: "exec python3 -u server.py"
    health:
      http: /healthz
      interval: 1s
      healthy-threshold: 1
      unhealthy-threshold: 2
    termination-wait: 2m
{env_extra}
stages:
  - name: Build
    actions:
      - name: package
        type: build
        outputs: [app]
        buildspec:
          version: 0.2
          phases:
            build:
              commands: ["test -f app/version"]
          artifacts:
            base-directory: app
            files: ["**/*"]
  - name: Deploy
{stage_head}
    actions:
      - {{ name: deploy, type: deploy, environment: staging, inputs: [app], run-order: 1 }}
{stage_extra}
"#
    )
}
