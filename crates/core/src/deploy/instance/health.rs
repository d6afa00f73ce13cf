//! Health probes of one local instance: an HTTP GET on
//! `http://127.0.0.1:PORT<path>` expecting a status, or a command run with
//! `sh -c` in the instance directory (exit 0 = healthy), each bounded by a
//! timeout; and the healthy/unhealthy thresholds that turn probes into a
//! verdict, as a load balancer's target health checks do.
//!
//! Owns probing and counting. Must never decide what a verdict leads to
//! (rolling back, taking an instance out of the router): that is the
//! orchestrator's policy.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::Serialize;

use crate::platform::process::spawn_group;
use crate::spec::pipeline::HealthCheck;

/// A command check is stopped this long after SIGTERM when it overruns its
/// timeout: a probe has no state worth a graceful shutdown.
const PROBE_GRACE: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    Healthy,
    Unhealthy,
}

/// What a probe reaches: the instance's port and its directory (where
/// command checks run).
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    pub port: u16,
    pub dir: PathBuf,
}

/// How often to probe and how many results in a row decide.
#[derive(Debug, Clone)]
pub struct HealthPolicy {
    pub interval: Duration,
    /// Per probe.
    pub timeout: Duration,
    /// Consecutive successes that make the instance healthy.
    pub healthy_threshold: u32,
    /// Consecutive failures that make it unhealthy.
    pub unhealthy_threshold: u32,
    /// Failures during this period after checking began, before the first
    /// success, are not counted (ECS's `startPeriod`): a service that is
    /// still binding its port is starting, not unhealthy. Successes count at
    /// once, and after the first one every failure counts.
    pub start_period: Duration,
}

impl HealthPolicy {
    /// The environment's `health:` settings, with the defaults of an ALB
    /// target group (5 s interval would be slow for a local service, so
    /// 1 s; timeout 2 s; 2 healthy, 3 unhealthy) and a 30 s start period.
    pub fn from_spec(h: &crate::spec::pipeline::Health) -> HealthPolicy {
        let threshold = |v: Option<u64>, default: u32| {
            v.map(|n| n.clamp(1, u32::MAX as u64) as u32)
                .unwrap_or(default)
        };
        HealthPolicy {
            interval: h.interval.map_or(Duration::from_secs(1), |d| d.as_std()),
            timeout: h.timeout.map_or(Duration::from_secs(2), |d| d.as_std()),
            healthy_threshold: threshold(h.healthy_threshold, 2),
            unhealthy_threshold: threshold(h.unhealthy_threshold, 3),
            start_period: Duration::from_secs(30),
        }
    }
}

/// Why one probe failed, in words for the deployment's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeFailure {
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    #[error("could not connect to 127.0.0.1:{port}: {message}")]
    Connect { port: u16, message: String },
    #[error("HTTP error: {0}")]
    Http(String),
    #[error("answered {got}, expected {expected}")]
    Status { got: u16, expected: u16 },
    #[error("the check command exited with {0}")]
    Command(String),
    #[error("could not start the check command: {0}")]
    Spawn(String),
}

/// One probe, bounded by `timeout`.
pub async fn probe(
    check: &HealthCheck,
    target: &ProbeTarget,
    timeout: Duration,
) -> Result<(), ProbeFailure> {
    match check {
        HealthCheck::Http {
            path,
            expect_status,
        } => match tokio::time::timeout(timeout, http_status(target.port, path)).await {
            Ok(Ok(got)) if got == *expect_status => Ok(()),
            Ok(Ok(got)) => Err(ProbeFailure::Status {
                got,
                expected: *expect_status,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ProbeFailure::TimedOut(timeout)),
        },
        HealthCheck::Command(command) => run_check(command, target, timeout).await,
        HealthCheck::Listening => {
            let port = target.port;
            match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(("127.0.0.1", port)))
                .await
            {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(ProbeFailure::Connect {
                    port,
                    message: e.to_string(),
                }),
                Err(_) => Err(ProbeFailure::TimedOut(timeout)),
            }
        }
    }
}

async fn http_status(port: u16, path: &str) -> Result<u16, ProbeFailure> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| ProbeFailure::Connect {
            port,
            message: e.to_string(),
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ProbeFailure::Http(e.to_string()))?;
    let conn = tokio::spawn(conn);
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, format!("127.0.0.1:{port}"))
        .header(hyper::header::USER_AGENT, "slipway-health-check")
        .body(Empty::<Bytes>::new())
        .map_err(|e| ProbeFailure::Http(e.to_string()))?;
    let result = sender.send_request(request).await;
    // Only the status matters; dropping the connection discards the body.
    conn.abort();
    result
        .map(|r| r.status().as_u16())
        .map_err(|e| ProbeFailure::Http(e.to_string()))
}

async fn run_check(
    command: &str,
    target: &ProbeTarget,
    timeout: Duration,
) -> Result<(), ProbeFailure> {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(&target.dir)
        .env("PORT", target.port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut group = spawn_group(&mut cmd).map_err(|e| ProbeFailure::Spawn(e.to_string()))?;
    match tokio::time::timeout(timeout, group.wait()).await {
        Ok(Ok(status)) => {
            // Whatever the check left in the background ends with it.
            group.stop(PROBE_GRACE).await;
            if status.success() {
                Ok(())
            } else {
                Err(ProbeFailure::Command(status.to_string()))
            }
        }
        Ok(Err(e)) => Err(ProbeFailure::Spawn(e.to_string())),
        Err(_) => {
            group.stop(PROBE_GRACE).await;
            Err(ProbeFailure::TimedOut(timeout))
        }
    }
}

/// Counts consecutive results against the thresholds.
#[derive(Debug, Clone)]
pub struct Thresholds {
    healthy: u32,
    unhealthy: u32,
    successes: u32,
    failures: u32,
}

impl Thresholds {
    pub fn new(policy: &HealthPolicy) -> Thresholds {
        Thresholds {
            healthy: policy.healthy_threshold.max(1),
            unhealthy: policy.unhealthy_threshold.max(1),
            successes: 0,
            failures: 0,
        }
    }

    /// Records one probe; returns a verdict once a threshold is reached.
    pub fn record(&mut self, ok: bool) -> Option<Health> {
        if ok {
            self.failures = 0;
            self.successes += 1;
            (self.successes >= self.healthy).then_some(Health::Healthy)
        } else {
            self.successes = 0;
            self.failures += 1;
            (self.failures >= self.unhealthy).then_some(Health::Unhealthy)
        }
    }
}

/// Probes every `interval` until `healthy_threshold` successes or
/// `unhealthy_threshold` failures in a row (failures in the start period
/// excepted), and returns that verdict. The verdict comes right after the
/// deciding probe: no probe is sent after it.
pub async fn wait_healthy(
    check: &HealthCheck,
    target: &ProbeTarget,
    policy: &HealthPolicy,
) -> Health {
    let began = tokio::time::Instant::now();
    let mut counts = Thresholds::new(policy);
    let mut answered = false;
    loop {
        let result = probe(check, target, policy.timeout).await;
        let ok = result.is_ok();
        answered |= ok;
        // Only a service that is not listening yet is "starting": one that
        // answers with the wrong status is up, and unhealthy.
        let not_listening = matches!(
            result,
            Err(ProbeFailure::Connect { .. } | ProbeFailure::TimedOut(_))
        ) || matches!(check, HealthCheck::Command(_));
        let starting = not_listening && !ok && !answered && began.elapsed() < policy.start_period;
        if !starting {
            if let Some(verdict) = counts.record(ok) {
                return verdict;
            }
        }
        tokio::time::sleep(policy.interval).await;
    }
}
