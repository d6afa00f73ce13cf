//! A local instance, as the user's service experiences it: started on its
//! own port, restarted when it is killed, stopped without leaving anything
//! behind, and judged healthy or not by its health check. Real processes,
//! real HTTP on 127.0.0.1.
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use slipway_core::deploy::instance::{
    self, health::ProbeFailure, probe, Health, HealthPolicy, Instance, InstanceConfig,
    InstanceEvent, InstanceState,
};
use slipway_core::spec::pipeline::HealthCheck;
use tokio::sync::broadcast;

/// Bound on every wait for something that should happen promptly; a test
/// that reaches it has found a bug, it is not a performance threshold.
const PATIENCE: Duration = Duration::from_secs(20);

/// The sample service: answers its version on `/`, and on `/healthz` the
/// status written in `health` (200 when absent), noting each probe in
/// `probes.log`.
const SERVER: &str = r#"
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == '/healthz':
            with open('probes.log', 'a') as f:
                f.write('probe\n')
            try:
                code = int(open('health').read().strip())
            except Exception:
                code = 200
            body = b'ok'
        else:
            code = 200
            body = open('version', 'rb').read()
        self.send_response(code)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        sys.stderr.write('request %s\n' % self.path)
http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
"#;

struct Fixture {
    _data: tempfile::TempDir,
    data_dir: PathBuf,
    env: String,
}

impl Fixture {
    fn new(env: &str) -> Fixture {
        let data = tempfile::tempdir().unwrap();
        let data_dir = data.path().to_path_buf();
        Fixture {
            _data: data,
            data_dir,
            env: env.to_string(),
        }
    }

    fn app_dir(&self) -> PathBuf {
        instance::instance_dir(&self.data_dir, &self.env, 0).join("app")
    }

    /// The sample service at `version`, installed in instance 0's app dir.
    fn sample_service(&self, version: &str) -> PathBuf {
        let app = self.app_dir();
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("server.py"), SERVER).unwrap();
        std::fs::write(app.join("version"), version).unwrap();
        app
    }

    fn config(&self, run: &str, grace: Duration) -> InstanceConfig {
        InstanceConfig {
            environment: self.env.clone(),
            index: 0,
            data_dir: self.data_dir.clone(),
            run: run.to_string(),
            workdir: self.app_dir(),
            port: None,
            env: Vec::new(),
            grace,
            clock: slipway_core::clock::system(),
        }
    }
}

/// Pids of running (non-zombie) processes carrying `SLIPWAY_INSTANCE=tag`.
fn tagged_processes(tag: &str) -> Vec<u32> {
    let wanted = format!("{}={tag}", instance::INSTANCE_ENV).into_bytes();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'))
        {
            continue;
        }
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if environ.split(|b| *b == 0).any(|v| v == wanted.as_slice()) {
            out.push(pid);
        }
    }
    out
}

/// A plain HTTP/1.0 GET; `None` while nothing answers.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

async fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn next_event(
    events: &mut broadcast::Receiver<InstanceEvent>,
    mut want: impl FnMut(&InstanceEvent) -> bool,
) -> InstanceEvent {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let e = events.recv().await.expect("the instance's events ended");
            if want(&e) {
                return e;
            }
        }
    })
    .await
    .expect("the expected event never came")
}

fn running_pid(s: &InstanceState) -> Option<u32> {
    match s {
        InstanceState::Running { pid } => Some(*pid),
        _ => None,
    }
}

#[tokio::test]
async fn an_instance_serves_on_its_port_comes_back_after_kill_9_and_stops_clean() {
    let f = Fixture::new("restart-story");
    f.sample_service("v1");
    let inst =
        Instance::start(f.config("exec python3 -u server.py", Duration::from_secs(5))).unwrap();
    let mut events = inst.events();
    assert!(inst.dir().starts_with(&f.data_dir));

    let first = inst
        .wait_for_state(PATIENCE, |s| running_pid(s).is_some())
        .await;
    let first = running_pid(&first).unwrap();
    let body = until("v1 answers on PORT", || get(inst.port(), "/")).await;
    assert_eq!(body, "v1");

    // SIGKILL the service behind the supervisor's back.
    std::process::Command::new("kill")
        .args(["-9", &first.to_string()])
        .status()
        .unwrap();
    let exited = next_event(&mut events, |e| matches!(e, InstanceEvent::Exited { .. })).await;
    assert_eq!(
        exited,
        InstanceEvent::Exited {
            code: None,
            signal: Some(9)
        }
    );
    let restarted = next_event(&mut events, |e| matches!(e, InstanceEvent::Started { .. })).await;
    let InstanceEvent::Started {
        pid: second,
        restarts,
    } = restarted
    else {
        unreachable!()
    };
    assert_eq!(restarts, 1);
    assert_ne!(second, first);
    let body = until("v1 answers again after the restart", || {
        get(inst.port(), "/")
    })
    .await;
    assert_eq!(body, "v1");

    let tag = inst.tag().to_string();
    let log = inst.log_path();
    assert!(!tagged_processes(&tag).is_empty());
    let killed = inst.stop().await;
    assert!(!killed, "python ends on SIGTERM; no SIGKILL was needed");
    assert_eq!(
        tagged_processes(&tag),
        Vec::<u32>::new(),
        "a process was left behind"
    );
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains("request /"),
        "the service's output is in its log:\n{log}"
    );
    assert!(log.contains("exited (code None, signal Some(9))"), "{log}");
    assert!(
        log.contains("--- slipway") && log.contains("stopped"),
        "{log}"
    );
}

#[tokio::test]
async fn a_service_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let f = Fixture::new("stubborn");
    std::fs::create_dir_all(f.app_dir()).unwrap();
    let run = "trap '' TERM; echo ready; while :; do sleep 1; done";
    let inst = Instance::start(f.config(run, Duration::from_millis(300))).unwrap();
    let log = inst.log_path();
    until("the trap is set", || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|l| l.contains("ready"))
    })
    .await;
    let tag = inst.tag().to_string();
    let killed = inst.stop().await;
    assert!(
        killed,
        "the service ignored SIGTERM, so it must have been killed"
    );
    assert_eq!(tagged_processes(&tag), Vec::<u32>::new());
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("killed after the grace period"));
}

#[tokio::test]
async fn a_service_that_keeps_dying_is_reported_as_a_crash_loop_not_spun() {
    let f = Fixture::new("crashy");
    std::fs::create_dir_all(f.app_dir()).unwrap();
    let inst = Instance::start(f.config("echo boom; exit 3", Duration::from_secs(1))).unwrap();
    let mut events = inst.events();
    let mut exits = 0;
    let mut delays = Vec::new();
    let exits_reported = tokio::time::timeout(PATIENCE, async {
        loop {
            match events.recv().await.unwrap() {
                InstanceEvent::Exited { code, .. } => {
                    assert_eq!(code, Some(3));
                    exits += 1;
                }
                InstanceEvent::Restarting { delay_ms, .. } => delays.push(delay_ms),
                InstanceEvent::CrashLoop { exits } => return exits,
                _ => {}
            }
        }
    })
    .await
    .expect("no crash loop was reported");
    assert_eq!(exits_reported, exits);
    // The supervisor backs off instead of spinning: each delay doubles.
    assert!(delays.windows(2).all(|w| w[1] == w[0] * 2), "{delays:?}");
    assert!(!inst.stop().await);
}

#[tokio::test]
async fn health_flips_after_the_thresholds_and_not_before() {
    let f = Fixture::new("health-story");
    let app = f.sample_service("v1");
    let inst =
        Instance::start(f.config("exec python3 -u server.py", Duration::from_secs(5))).unwrap();
    let mut events = inst.events();
    let check = HealthCheck::Http {
        path: "/healthz".into(),
        expect_status: 200,
    };
    let mut policy = HealthPolicy {
        interval: Duration::from_millis(20),
        timeout: Duration::from_secs(5),
        healthy_threshold: 3,
        unhealthy_threshold: 2,
        // The service may not be listening yet: refused connections
        // before its first answer are its start, not a failure.
        start_period: PATIENCE,
    };
    assert_eq!(inst.wait_healthy(&check, &policy).await, Health::Healthy);
    assert_eq!(
        next_event(&mut events, |e| matches!(
            e,
            InstanceEvent::HealthChanged { .. }
        ))
        .await,
        InstanceEvent::HealthChanged {
            health: Health::Healthy
        }
    );

    policy.start_period = Duration::ZERO;
    let probes = app.join("probes.log");
    std::fs::write(app.join("health"), "500").unwrap();
    std::fs::write(&probes, "").unwrap();
    assert_eq!(inst.wait_healthy(&check, &policy).await, Health::Unhealthy);
    assert_eq!(
        probe_count(&probes),
        2,
        "unhealthy after exactly 2 failures"
    );

    std::fs::write(app.join("health"), "200").unwrap();
    std::fs::write(&probes, "").unwrap();
    assert_eq!(inst.wait_healthy(&check, &policy).await, Health::Healthy);
    assert_eq!(probe_count(&probes), 3, "healthy after exactly 3 successes");

    // Watching during a bake: each change of verdict is one event.
    let mut events = inst.events();
    let watcher = inst.monitor_health(check.clone(), policy.clone());
    let health_change = |e: &InstanceEvent| matches!(e, InstanceEvent::HealthChanged { .. });
    assert_eq!(
        next_event(&mut events, health_change).await,
        InstanceEvent::HealthChanged {
            health: Health::Healthy
        }
    );
    std::fs::write(app.join("health"), "500").unwrap();
    assert_eq!(
        next_event(&mut events, health_change).await,
        InstanceEvent::HealthChanged {
            health: Health::Unhealthy
        }
    );
    std::fs::write(app.join("health"), "200").unwrap();
    assert_eq!(
        next_event(&mut events, health_change).await,
        InstanceEvent::HealthChanged {
            health: Health::Healthy
        }
    );
    watcher.abort();

    let wrong = probe(&check, &inst.probe_target(), policy.timeout).await;
    assert_eq!(wrong, Ok(()));
    std::fs::write(app.join("health"), "503").unwrap();
    let wrong = probe(&check, &inst.probe_target(), policy.timeout).await;
    assert_eq!(
        wrong,
        Err(ProbeFailure::Status {
            got: 503,
            expected: 200
        })
    );
    inst.stop().await;
}

fn probe_count(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

#[tokio::test]
async fn command_checks_run_in_the_instance_directory_and_are_bounded() {
    let f = Fixture::new("command-check");
    std::fs::create_dir_all(f.app_dir()).unwrap();
    let target = instance::ProbeTarget {
        port: 1,
        dir: f.app_dir(),
    };
    let check = HealthCheck::Command("test -f ready && test \"$PORT\" = 1".into());
    let timeout = Duration::from_secs(10);
    assert!(matches!(
        probe(&check, &target, timeout).await,
        Err(ProbeFailure::Command(_))
    ));
    std::fs::write(f.app_dir().join("ready"), "").unwrap();
    assert_eq!(probe(&check, &target, timeout).await, Ok(()));

    let hang = HealthCheck::Command("echo $$ > hung.pid; exec sleep 30".into());
    let short = Duration::from_millis(300);
    assert_eq!(
        probe(&hang, &target, short).await,
        Err(ProbeFailure::TimedOut(short))
    );
    let pid = std::fs::read_to_string(f.app_dir().join("hung.pid")).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "the timed-out check still runs: {stat}"
    );
}

#[tokio::test]
async fn a_later_engine_finds_an_instance_by_its_tag() {
    let f = Fixture::new("leftover");
    std::fs::create_dir_all(f.app_dir()).unwrap();
    let inst = Instance::start(f.config("exec sleep 30", Duration::from_secs(1))).unwrap();
    let mut events = inst.events();
    inst.wait_for_state(PATIENCE, |s| running_pid(s).is_some())
        .await;
    // What a restarted engine does for instances a killed one left running.
    // (Right after the spawn the child may not have exec'd yet, and its
    // environment is still its parent's: look again until it carries its tag.)
    let deadline = std::time::Instant::now() + PATIENCE;
    let killed = loop {
        let killed = instance::kill_instances(&[inst.tag().to_string()]);
        if killed > 0 || std::time::Instant::now() > deadline {
            break killed;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(killed, 1);
    let exited = next_event(&mut events, |e| matches!(e, InstanceEvent::Exited { .. })).await;
    assert_eq!(
        exited,
        InstanceEvent::Exited {
            code: None,
            signal: Some(9)
        }
    );
    assert_eq!(instance::kill_instances(&["leftover/1".to_string()]), 0);
    inst.stop().await;
}
