//! Watching a deployment while traffic moves and during its bake: the new
//! instances' health (their checks keep running) and the environment's
//! alarms (the router's error rate over a window, alarm commands, and
//! CloudWatch alarms' state, read by [`super::cloudwatch`]). Alarms are
//! evaluated every [`ALARM_PERIOD`]. The first failure ends the watch with
//! its cause, in words.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::cloudwatch::{CloudWatchAlarms, Reading};
use super::instance::{Health, InstanceEvent};
use super::router::Router;
use crate::platform::process::spawn_group;
use crate::spec::pipeline::{Alarm, RollbackOn};

/// How often alarms are evaluated.
pub const ALARM_PERIOD: Duration = Duration::from_secs(1);
/// How long one alarm command may take before it counts as in alarm.
const ALARM_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a deployment failed, and which `auto-rollback` cause that is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub cause: RollbackOn,
    pub message: String,
    /// Someone stopped the deployment (`slipway stop --abandon`): it ends
    /// `Stopped`, and is not rolled back automatically.
    pub stopped: bool,
}

impl Failure {
    /// The deployment was stopped by a person.
    pub fn stopped() -> Failure {
        Failure {
            cause: RollbackOn::Failure,
            message: "stopped".into(),
            stopped: true,
        }
    }

    /// A failure of the deployment itself (a hook, a start, a copy).
    pub fn of(message: impl Into<String>) -> Failure {
        Failure {
            cause: RollbackOn::Failure,
            message: message.into(),
            stopped: false,
        }
    }
}

/// The reader of `spec`'s `cloudwatch:` alarms, read with its account's
/// session; `None` when it names none.
pub fn cloudwatch_of(
    spec: &crate::spec::pipeline::Environment,
    store: Option<Arc<crate::store::Store>>,
    clock: Arc<dyn crate::clock::Clock>,
) -> Option<CloudWatchAlarms> {
    let names: Vec<String> = spec
        .alarms
        .iter()
        .filter_map(|a| match a {
            Alarm::CloudWatch(name) => Some(name.clone()),
            _ => None,
        })
        .collect();
    (!names.is_empty())
        .then(|| CloudWatchAlarms::new(names, crate::creds::Account::of(spec), store, clock))
}

/// What to watch.
pub struct Watch<'a> {
    /// `(instance label, its events)` of the instances whose health counts.
    pub instances: Vec<(String, broadcast::Receiver<InstanceEvent>)>,
    /// The local provider's router (error-rate alarms read it); none for
    /// providers whose requests Slipway does not see.
    pub router: Option<&'a Router>,
    /// The set whose error rate the alarm reads (the new set; `None` for the
    /// router's total, as in place).
    pub set: Option<String>,
    pub alarms: &'a [Alarm],
    /// Where alarm commands run.
    pub dir: PathBuf,
    pub env: Arc<Vec<(String, String)>>,
    /// Turns true when the deployment is stopped.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
    /// The `cloudwatch:` alarms among `alarms`, read together; `None` when
    /// there are none.
    pub cloudwatch: Option<CloudWatchAlarms>,
}

impl Watch<'_> {
    /// Watches for `how_long`; `Ok` when nothing went wrong.
    pub async fn run(&mut self, how_long: Duration) -> Result<(), Failure> {
        let deadline = tokio::time::Instant::now() + how_long;
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + ALARM_PERIOD, ALARM_PERIOD);
        loop {
            if let Some(failure) = self.health_failure() {
                return Err(failure);
            }
            if self.stop.as_ref().is_some_and(|s| *s.borrow()) {
                return Err(Failure::stopped());
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    return self.health_failure().map_or(Ok(()), Err);
                }
                _ = tick.tick() => {
                    if let Some(failure) = self.alarm().await {
                        return Err(failure);
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    /// Drains the instances' events; the first sign of ill health fails.
    fn health_failure(&mut self) -> Option<Failure> {
        for (label, rx) in &mut self.instances {
            loop {
                match rx.try_recv() {
                    Ok(InstanceEvent::HealthChanged {
                        health: Health::Unhealthy,
                    }) => {
                        return Some(Failure {
                            cause: RollbackOn::Health,
                            message: format!("instance {label} became unhealthy"),
                            stopped: false,
                        })
                    }
                    Ok(InstanceEvent::CrashLoop { exits }) => {
                        return Some(Failure {
                            cause: RollbackOn::Health,
                            message: format!(
                                "instance {label} keeps crashing ({exits} exits in a row)"
                            ),
                            stopped: false,
                        })
                    }
                    Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                    Err(_) => break,
                }
            }
        }
        None
    }

    async fn alarm(&mut self) -> Option<Failure> {
        // One DescribeAlarms read per evaluation, for all `cloudwatch:`
        // alarms, made where the first of them is in the file's order.
        let mut cloudwatch_read = false;
        for alarm in self.alarms {
            match alarm {
                Alarm::ErrorRate { above, window } => {
                    let window = window.as_std().max(Duration::from_secs(1));
                    let Some(router) = self.router else {
                        continue;
                    };
                    let rate = match &self.set {
                        Some(set) => router.set_error_rate(set, window).unwrap_or(0.0),
                        None => router.error_rate(window),
                    };
                    if rate * 100.0 > above.0 {
                        return Some(Failure {
                            cause: RollbackOn::Alarm,
                            message: format!(
                                "alarm: error rate {:.1}% over {}s is above {}%",
                                rate * 100.0,
                                window.as_secs(),
                                above.0
                            ),
                            stopped: false,
                        });
                    }
                }
                Alarm::Command(command) => {
                    if let Err(why) = self.alarm_command(command).await {
                        return Some(Failure {
                            cause: RollbackOn::Alarm,
                            message: format!("alarm: `{command}` {why}"),
                            stopped: false,
                        });
                    }
                }
                Alarm::CloudWatch(_) if !cloudwatch_read => {
                    cloudwatch_read = true;
                    let reading = match self.cloudwatch.as_mut() {
                        Some(c) => c.read().await,
                        None => Reading::InAlarm("no CloudWatch reader for this watch".into()),
                    };
                    if let Reading::InAlarm(why) = reading {
                        return Some(Failure {
                            cause: RollbackOn::Alarm,
                            message: format!("alarm: {why}"),
                            stopped: false,
                        });
                    }
                }
                Alarm::CloudWatch(_) => {}
            }
        }
        None
    }

    async fn alarm_command(&self, command: &str) -> Result<(), String> {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .current_dir(&self.dir)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut group = spawn_group(&mut cmd).map_err(|e| format!("could not start: {e}"))?;
        match tokio::time::timeout(ALARM_TIMEOUT, group.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(format!("is in alarm ({status})")),
            Ok(Err(e)) => Err(format!("failed: {e}")),
            Err(_) => {
                group.stop(Duration::from_secs(1)).await;
                Err(format!("took longer than {}s", ALARM_TIMEOUT.as_secs()))
            }
        }
    }
}
