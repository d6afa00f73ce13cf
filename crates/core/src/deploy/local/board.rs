//! What a local environment looks like right now: its sets, each
//! instance's process state and health, the router's weights, and the
//! progress of the deployment moving it. Readable while that deployment
//! holds the environment (the Environments page asks at any time), and
//! announced as an `environment` event whenever any of it changes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::super::instance::{Health, InstanceState};
use super::super::router::RouterReader;
use super::LiveSet;
use crate::clock::Clock;
use crate::events::Event;
pub use crate::model::environment::{
    DeployProgress, EnvironmentLive, HealthStatus, InstanceStatus, LiveInstance, LiveSetInfo,
    ProgressStep, TrafficPoint,
};

/// Changes closer together than this go out as one event.
const COALESCE: Duration = Duration::from_millis(40);
/// A deployment's traffic chart keeps at most this many points.
const MAX_POINTS: usize = 200;

/// One instance slot as the board follows it.
struct Followed {
    index: usize,
    port: u16,
    state: Option<watch::Receiver<InstanceState>>,
    health: Option<watch::Receiver<Option<Health>>>,
}

struct FollowedSet {
    name: &'static str,
    deployment_id: String,
    revision: String,
    slots: Vec<Followed>,
}

#[derive(Default)]
struct Inner {
    sets: Vec<FollowedSet>,
    progress: Option<DeployProgress>,
    /// Tasks turning instance state and health changes into events.
    followers: Vec<JoinHandle<()>>,
}

/// One environment's live view, shared by its `LocalEnv` (which updates
/// it) and whoever reads it.
pub struct Board {
    pipeline: String,
    environment: String,
    listen: SocketAddr,
    router: RouterReader,
    inner: Mutex<Inner>,
    changed: watch::Sender<u64>,
    clock: Arc<dyn Clock>,
}

impl Board {
    /// A board for an environment whose router is `router`; changes go out
    /// on `events`, traffic points are stamped by `clock`. Must be called
    /// inside a Tokio runtime.
    pub fn new(
        pipeline: &str,
        environment: &str,
        listen: SocketAddr,
        router: RouterReader,
        events: broadcast::Sender<Event>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Board> {
        let (changed, mut seen) = watch::channel(0);
        let mut routed = router.changes();
        let board = Arc::new(Board {
            pipeline: pipeline.into(),
            environment: environment.into(),
            listen,
            router,
            inner: Mutex::default(),
            changed,
            clock,
        });
        let weak: Weak<Board> = Arc::downgrade(&board);
        tokio::spawn(async move {
            // Ends when the board does (its sender drops).
            loop {
                let alive = tokio::select! {
                    r = seen.changed() => r.is_ok(),
                    r = routed.changed() => r.is_ok(),
                };
                if !alive {
                    return;
                }
                tokio::time::sleep(COALESCE).await;
                seen.mark_unchanged();
                routed.mark_unchanged();
                let Some(board) = weak.upgrade() else { return };
                let _ = events.send(Event::Environment(board.view()));
            }
        });
        board
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Says that something changed; the next event carries it.
    pub fn touch(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Follows these sets (what serves, and a new set being started) from
    /// now on; call whenever a set or one of its instances was replaced.
    pub fn show(self: &Arc<Self>, sets: &[&LiveSet]) {
        let followed: Vec<FollowedSet> = sets
            .iter()
            .map(|set| FollowedSet {
                name: set.name,
                deployment_id: set.deployment_id.clone(),
                revision: set.revision.clone(),
                slots: set
                    .slots
                    .iter()
                    .map(|slot| Followed {
                        index: slot.index,
                        port: slot.port,
                        state: slot.instance.as_ref().map(|i| i.state_watch()),
                        health: slot.instance.as_ref().map(|i| i.health_watch()),
                    })
                    .collect(),
            })
            .collect();
        let followers = followed
            .iter()
            .flat_map(|set| set.slots.iter())
            .filter_map(|slot| Some((slot.state.clone()?, slot.health.clone()?)))
            .map(|(state, health)| self.follow(state, health))
            .collect();
        let mut inner = self.inner();
        for old in std::mem::replace(&mut inner.followers, followers) {
            old.abort();
        }
        inner.sets = followed;
        drop(inner);
        self.touch();
    }

    /// A task that touches the board on every state or health change of
    /// one instance, until the instance ends.
    fn follow(
        self: &Arc<Self>,
        mut state: watch::Receiver<InstanceState>,
        mut health: watch::Receiver<Option<Health>>,
    ) -> JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let alive = tokio::select! {
                    r = state.changed() => r.is_ok(),
                    r = health.changed() => r.is_ok(),
                };
                match weak.upgrade() {
                    Some(board) => board.touch(),
                    None => return,
                }
                if !alive {
                    return;
                }
            }
        })
    }

    /// Updates the progress of deployment `id` (starting it when new).
    pub fn progress(&self, id: &str, update: impl FnOnce(&mut DeployProgress)) {
        let mut inner = self.inner();
        if inner.progress.as_ref().map(|p| p.deployment_id.as_str()) != Some(id) {
            inner.progress = Some(DeployProgress::new(id));
        }
        let progress = inner.progress.as_mut().expect("set above");
        update(progress);
        if progress.traffic.len() > MAX_POINTS {
            let extra = progress.traffic.len() - MAX_POINTS;
            progress.traffic.drain(..extra);
        }
        drop(inner);
        self.touch();
    }

    /// Records the new set's share of traffic now.
    pub fn traffic(&self, id: &str, set: &str, percent: u32) {
        let now = self.clock.now();
        self.progress(id, |p| {
            p.set(
                ProgressStep::Shifting,
                format!("{percent}% of traffic on {set}"),
            );
            p.until = None;
            p.traffic.push(TrafficPoint { at: now, percent });
        });
    }

    /// The deployment ended: no progress to show.
    pub fn finish(&self) {
        self.inner().progress = None;
        self.touch();
    }

    /// The environment now.
    pub fn view(&self) -> EnvironmentLive {
        let routed = self.router.sets();
        let total: u32 = routed.iter().map(|s| s.weight).sum();
        let inner = self.inner();
        let sets = inner
            .sets
            .iter()
            .map(|set| {
                let table = routed.iter().find(|s| s.name == set.name);
                let percent = match (table, total) {
                    (Some(t), total) if total > 0 => t.weight * 100 / total,
                    _ => 0,
                };
                LiveSetInfo {
                    name: set.name.into(),
                    deployment_id: set.deployment_id.clone(),
                    revision: set.revision.clone(),
                    percent,
                    instances: set
                        .slots
                        .iter()
                        .map(|slot| {
                            let in_service = table.is_some_and(|t| {
                                t.backends
                                    .iter()
                                    .any(|b| b.addr.port() == slot.port && b.in_service)
                            });
                            instance_view(slot, in_service)
                        })
                        .collect(),
                }
            })
            .collect();
        EnvironmentLive {
            pipeline: self.pipeline.clone(),
            environment: self.environment.clone(),
            listen: self.listen.to_string(),
            sets,
            progress: inner.progress.clone(),
        }
    }
}

fn instance_view(slot: &Followed, in_service: bool) -> LiveInstance {
    let (state, pid) = match slot.state.as_ref().map(|s| *s.borrow()) {
        None | Some(InstanceState::Stopped) => (InstanceStatus::Stopped, None),
        Some(InstanceState::Starting) => (InstanceStatus::Starting, None),
        Some(InstanceState::Restarting) => (InstanceStatus::Restarting, None),
        Some(InstanceState::Running { pid }) => (InstanceStatus::Running, Some(pid)),
    };
    // A stopped instance's last verdict is history, not health.
    let health = match state {
        InstanceStatus::Stopped => None,
        _ => slot
            .health
            .as_ref()
            .and_then(|h| *h.borrow())
            .map(|h| match h {
                Health::Healthy => HealthStatus::Healthy,
                Health::Unhealthy => HealthStatus::Unhealthy,
            }),
    };
    LiveInstance {
        index: slot.index as u32,
        port: slot.port,
        pid,
        state,
        health,
        in_service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::local::Slot;
    use crate::deploy::router::{BackendSet, Router};

    fn set(name: &'static str, ports: &[u16]) -> LiveSet {
        LiveSet {
            name,
            deployment_id: format!("d-{name}"),
            revision: format!("rev-{name}"),
            digest: String::new(),
            slots: ports
                .iter()
                .enumerate()
                .map(|(index, &port)| Slot {
                    index,
                    set: name,
                    dir: std::env::temp_dir(),
                    port,
                    instance: None,
                    revision: None,
                })
                .collect(),
        }
    }

    async fn next_view(rx: &mut broadcast::Receiver<Event>) -> EnvironmentLive {
        loop {
            match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
                Ok(Ok(Event::Environment(live))) => return live,
                Ok(Ok(_)) => continue,
                other => panic!("no environment event: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn shows_each_sets_share_of_traffic_and_a_deployments_progress_as_events() {
        let router = Router::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let (events, mut rx) = broadcast::channel(64);
        let board = Board::new(
            "shop/web",
            "staging",
            router.local_addr(),
            router.reader(),
            events,
            crate::clock::system(),
        );
        let (blue, green) = (set("blue", &[41001, 41002]), set("green", &[41003, 41004]));
        router
            .set_sets(vec![
                BackendSet::new("blue", 80, [41001, 41002]),
                BackendSet::new("green", 20, [41003, 41004]),
            ])
            .unwrap();
        board.show(&[&blue, &green]);
        board.traffic("d-green", "green", 20);
        let live = next_view(&mut rx).await;
        assert_eq!(live.environment, "staging");
        let shares: Vec<(String, u32)> = live
            .sets
            .iter()
            .map(|s| (s.name.clone(), s.percent))
            .collect();
        assert_eq!(shares, [("blue".into(), 80), ("green".into(), 20)]);
        // Slots without a service are stopped, and not in the router's
        // service once it takes them out.
        assert!(live.sets[0]
            .instances
            .iter()
            .all(|i| i.state == InstanceStatus::Stopped && i.health.is_none()));
        assert!(live.sets[1].instances[0].in_service);
        let progress = live.progress.expect("a deployment under way");
        assert_eq!(progress.phase, "20% of traffic on green");
        assert_eq!(progress.traffic.len(), 1);

        // An in-service flip alone (what a batch does) is an event too.
        router
            .set_in_service("127.0.0.1:41003".parse().unwrap(), false)
            .unwrap();
        let live = next_view(&mut rx).await;
        assert!(!live.sets[1].instances[0].in_service);

        // A new deployment starts its own progress; the chart stays bounded.
        for i in 0..(MAX_POINTS + 10) {
            board.traffic("d-next", "green", (i % 100) as u32);
        }
        board.progress("d-next", |p| {
            p.batch = Some(2);
            p.batches = Some(3);
        });
        let view = board.view();
        let progress = view.progress.unwrap();
        assert_eq!(progress.deployment_id, "d-next");
        assert_eq!(progress.traffic.len(), MAX_POINTS);
        assert_eq!((progress.batch, progress.batches), (Some(2), Some(3)));

        board.finish();
        assert!(board.view().progress.is_none());
        router.stop().await;
    }
}
