//! Execution modes, CodePipeline's semantics, between executions of one
//! pipeline that this engine runs:
//!
//! - `superseded` (the default): a stage holds one execution at a time. An
//!   execution waiting to enter a stage is replaced by a newer one that comes
//!   to wait for the same stage; the older one ends `Superseded`. So a burst
//!   of commits builds the first and the newest, and records every other.
//! - `queued`: executions run one at a time, in the order they started.
//! - `parallel`: executions are independent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::spec::pipeline::ExecutionMode;

/// One pipeline's coordination state.
#[derive(Default)]
pub(super) struct Lanes {
    pipelines: Mutex<HashMap<String, Arc<PipelineLane>>>,
}

#[derive(Default)]
pub(super) struct PipelineLane {
    state: Mutex<LaneState>,
    changed: Notify,
}

#[derive(Default)]
struct LaneState {
    /// Per stage: the execution (by sequence) in it, if any.
    busy: HashMap<usize, u64>,
    /// Per stage: the one execution waiting to enter it.
    waiting: HashMap<usize, u64>,
    /// Per stage: the newest execution that entered it. An older one may
    /// never enter after it.
    newest: HashMap<usize, u64>,
    /// Queued mode: executions created and not yet finished, by sequence.
    queued: std::collections::BTreeSet<u64>,
    /// Superseded mode: executions created and not yet at their first
    /// stage (their source is still being written), by sequence. None
    /// younger takes a free stage before them: a burst of commits enters in
    /// the order it was made, not in the order snapshots happen to finish.
    arriving: std::collections::BTreeSet<u64>,
}

/// What an execution learns when it asks to enter a stage.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Entry {
    Entered,
    Superseded,
}

impl Lanes {
    pub fn lane(&self, pipeline: &str) -> Arc<PipelineLane> {
        self.pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(pipeline.to_string())
            .or_default()
            .clone()
    }
}

impl PipelineLane {
    /// Takes a place when the execution is created, so creation order
    /// decides, not which task starts first: in the line (queued mode), or
    /// among those arriving at their first stage (superseded mode; the
    /// place is given up when the returned arrival is dropped, if the
    /// execution never gets there).
    pub fn join(self: &Arc<Self>, mode: ExecutionMode, seq: u64) -> Option<Arrival> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match mode {
            ExecutionMode::Queued => {
                state.queued.insert(seq);
                None
            }
            ExecutionMode::Superseded => {
                state.arriving.insert(seq);
                Some(Arrival {
                    lane: self.clone(),
                    seq,
                })
            }
            ExecutionMode::Parallel => None,
        }
    }

    /// Execution `seq` reached its first stage, or will never.
    fn arrived(&self, seq: u64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.arriving.remove(&seq) {
            self.changed.notify_waiters();
        }
    }

    /// Queued mode: waits until every execution created before this one has
    /// finished. The returned turn ends (and lets the next go) when dropped.
    pub async fn turn(self: &Arc<Self>, mode: ExecutionMode, seq: u64) -> Option<Turn> {
        if mode != ExecutionMode::Queued {
            return None;
        }
        loop {
            let changed = self.changed.notified();
            {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                state.queued.insert(seq);
                if state.queued.first() == Some(&seq) {
                    return Some(Turn {
                        lane: self.clone(),
                        seq,
                    });
                }
            }
            changed.await;
        }
    }

    /// Waits until execution `seq` may enter `stage`, or learns that a newer
    /// execution superseded it. Only `superseded` mode waits here. The stage
    /// is left when the returned slot is dropped.
    pub async fn enter_stage(
        self: &Arc<Self>,
        mode: ExecutionMode,
        stage: usize,
        seq: u64,
    ) -> Option<StageSlot> {
        match self.enter(mode, stage, seq).await {
            Entry::Superseded => None,
            Entry::Entered => Some(StageSlot {
                lane: self.clone(),
                stage,
                seq,
            }),
        }
    }

    async fn enter(&self, mode: ExecutionMode, stage: usize, seq: u64) -> Entry {
        if mode != ExecutionMode::Superseded {
            return Entry::Entered;
        }
        loop {
            let changed = self.changed.notified();
            {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if state.arriving.remove(&seq) {
                    self.changed.notify_waiters();
                }
                if state.newest.get(&stage).is_some_and(|&n| n > seq) {
                    return Entry::Superseded;
                }
                // A free stage goes to the oldest that wants it: none older
                // may still be on its way to it.
                let older_arriving = state.arriving.range(..seq).next().is_some();
                if !state.busy.contains_key(&stage) && !older_arriving {
                    if state.waiting.get(&stage) == Some(&seq) {
                        state.waiting.remove(&stage);
                    }
                    state.busy.insert(stage, seq);
                    state.newest.insert(stage, seq);
                    return Entry::Entered;
                }
                match state.waiting.get(&stage).copied() {
                    Some(other) if other > seq => return Entry::Superseded,
                    Some(other) if other < seq => {
                        // We replace the older one; it wakes and sees it.
                        state.waiting.insert(stage, seq);
                        self.changed.notify_waiters();
                    }
                    None => {
                        state.waiting.insert(stage, seq);
                    }
                    Some(_) => {}
                }
            }
            changed.await;
        }
    }

    /// Execution `seq` left `stage` (done, failed or stopped).
    fn leave(&self, stage: usize, seq: u64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.busy.get(&stage) == Some(&seq) {
            state.busy.remove(&stage);
        }
        if state.waiting.get(&stage) == Some(&seq) {
            state.waiting.remove(&stage);
        }
        self.changed.notify_waiters();
    }
}

/// A superseded-mode execution's place among those arriving at their first
/// stage; dropping it (the execution never ran) lets younger ones in.
pub struct Arrival {
    lane: Arc<PipelineLane>,
    seq: u64,
}

impl std::fmt::Debug for Arrival {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arrival").field("seq", &self.seq).finish()
    }
}

impl Drop for Arrival {
    fn drop(&mut self) {
        self.lane.arrived(self.seq);
    }
}

/// A queued execution's turn; ending it lets the next one start.
pub(super) struct Turn {
    lane: Arc<PipelineLane>,
    seq: u64,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut state = self.lane.state.lock().unwrap_or_else(|e| e.into_inner());
        state.queued.remove(&self.seq);
        self.lane.changed.notify_waiters();
    }
}

/// An execution's place in a stage; leaving it lets the next one in.
pub(super) struct StageSlot {
    lane: Arc<PipelineLane>,
    stage: usize,
    seq: u64,
}

impl Drop for StageSlot {
    fn drop(&mut self) {
        self.lane.leave(self.stage, self.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_newer_waiting_execution_supersedes_an_older_one() {
        let lane = Arc::new(PipelineLane::default());
        let mode = ExecutionMode::Superseded;
        assert_eq!(lane.enter(mode, 0, 1).await, Entry::Entered);
        let waiting = |seq| {
            let lane = lane.clone();
            tokio::spawn(async move { lane.enter(mode, 0, seq).await })
        };
        let second = waiting(2);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let third = waiting(3);
        assert_eq!(second.await.unwrap(), Entry::Superseded);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!third.is_finished(), "the newest waits for the stage");
        lane.leave(0, 1);
        assert_eq!(third.await.unwrap(), Entry::Entered);
    }

    #[tokio::test]
    async fn a_burst_enters_in_creation_order_whoever_is_ready_first() {
        let lane = Arc::new(PipelineLane::default());
        let mode = ExecutionMode::Superseded;
        let first = lane.join(mode, 1);
        let _second = lane.join(mode, 2);
        // The second's snapshot finished first: it waits for the first.
        let second = {
            let lane = lane.clone();
            tokio::spawn(async move { lane.enter(mode, 0, 2).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!second.is_finished(), "the older one is still arriving");
        assert_eq!(lane.enter(mode, 0, 1).await, Entry::Entered);
        drop(first);
        let third = {
            let _arrival = lane.join(mode, 3);
            let lane = lane.clone();
            tokio::spawn(async move { lane.enter(mode, 0, 3).await })
        };
        assert_eq!(second.await.unwrap(), Entry::Superseded);
        lane.leave(0, 1);
        assert_eq!(third.await.unwrap(), Entry::Entered);
        // One that never gets to run gives its place up.
        let never = lane.join(mode, 4);
        drop(never);
        lane.leave(0, 3);
        assert_eq!(lane.enter(mode, 0, 5).await, Entry::Entered);
    }

    #[tokio::test]
    async fn parallel_and_queued_never_supersede() {
        let lane = Arc::new(PipelineLane::default());
        for mode in [ExecutionMode::Parallel, ExecutionMode::Queued] {
            assert_eq!(lane.enter(mode, 0, 1).await, Entry::Entered);
            assert_eq!(lane.enter(mode, 0, 2).await, Entry::Entered);
        }
    }
}
