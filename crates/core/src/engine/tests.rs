//! The engine on real repositories, a real database and real processes,
//! for what only shows when one engine runs several executions at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::clock::SystemClock;
use crate::testing::GitRepo;

struct Fixture {
    _dir: tempfile::TempDir,
    _lock: EngineLock,
    engine: Arc<Engine>,
    _repo: GitRepo,
}

fn engine_with(pipeline: &str) -> Fixture {
    let repo = GitRepo::new();
    repo.write(".slipway/ci.yml", pipeline);
    repo.commit("pipeline");
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("db")).unwrap());
    crate::repos::add(&store, repo.path(), Some("app"), true, 0).unwrap();
    let lock = acquire_lock(dir.path()).unwrap();
    let (events, _) = broadcast::channel(64);
    let engine = Engine::start(store, dir.path(), Arc::new(SystemClock), events, 8, &lock).unwrap();
    Fixture {
        _dir: dir,
        _lock: lock,
        engine: Arc::new(engine),
        _repo: repo,
    }
}

fn request() -> RunRequest {
    RunRequest {
        pipeline: "app/ci".into(),
        trigger: crate::model::ExecutionTrigger::Push("main".into()),
        variables: BTreeMap::new(),
        revision: None,
        branch: None,
    }
}

/// Creates `n` executions and starts them in that order, as a burst of
/// commits would; returns their final records in creation order.
async fn burst(f: &Fixture, n: usize) -> Vec<ExecutionDetail> {
    let plans: Vec<Plan> = (0..n)
        .map(|_| f.engine.create(&request()).unwrap())
        .collect();
    let ids: Vec<String> = plans.iter().map(|p| p.id.clone()).collect();
    let mut tasks = Vec::new();
    for plan in plans {
        let engine = f.engine.clone();
        tasks.push(tokio::spawn(async move { engine.run(plan).await.unwrap() }));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    ids.iter()
        .map(|id| f.engine.store().execution(id).unwrap().unwrap())
        .collect()
}

const TWO_STAGES: &str = "version: 1
execution-mode: MODE
stages:
  - name: Build
    actions:
      - { name: a, type: command, commands: ['sleep 0.3'] }
  - name: Ship
    actions:
      - { name: b, type: command, commands: ['true'] }
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_under_superseded_builds_the_first_and_the_newest_and_records_the_rest() {
    let f = engine_with(&TWO_STAGES.replace("MODE", "superseded"));
    let done = burst(&f, 6).await;
    let statuses: Vec<Status> = done.iter().map(|d| d.summary.status).collect();
    assert_eq!(statuses.len(), 6, "none lost from the history");
    assert_eq!(
        statuses[0],
        Status::Succeeded,
        "the first one to start finishes"
    );
    assert_eq!(statuses[5], Status::Succeeded, "the newest is built");
    assert!(
        statuses[1..5].iter().all(|s| *s == Status::Superseded),
        "{statuses:?}"
    );
    for d in &done[1..5] {
        assert!(d.summary.ended_at.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_queued_every_execution_runs_in_order() {
    let f = engine_with(&TWO_STAGES.replace("MODE", "queued"));
    let plans: Vec<Plan> = (0..4)
        .map(|_| f.engine.create(&request()).unwrap())
        .collect();
    let ids: Vec<String> = plans.iter().map(|p| p.id.clone()).collect();
    let mut tasks = Vec::new();
    for plan in plans.into_iter().rev() {
        let engine = f.engine.clone();
        tasks.push(tokio::spawn(async move { engine.run(plan).await.unwrap() }));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    let done: Vec<ExecutionDetail> = ids
        .iter()
        .map(|id| f.engine.store().execution(id).unwrap().unwrap())
        .collect();
    assert!(done.iter().all(|d| d.summary.status == Status::Succeeded));
    // Started in the opposite order, they still run in creation order.
    let starts: Vec<i64> = done
        .iter()
        .map(|d| d.stages[0].started_at.unwrap())
        .collect();
    let ends: Vec<i64> = done.iter().map(|d| d.summary.ended_at.unwrap()).collect();
    for i in 1..done.len() {
        assert!(
            starts[i] >= ends[i - 1],
            "one at a time, in order: {starts:?} {ends:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_parallel_executions_overlap() {
    let f = engine_with(&TWO_STAGES.replace("MODE", "parallel"));
    let done = burst(&f, 3).await;
    assert!(done.iter().all(|d| d.summary.status == Status::Succeeded));
    let latest_start = done
        .iter()
        .map(|d| d.stages[0].started_at.unwrap())
        .max()
        .unwrap();
    let earliest_end = done
        .iter()
        .map(|d| d.stages[0].ended_at.unwrap())
        .min()
        .unwrap();
    assert!(
        latest_start < earliest_end,
        "all three were in Build at once"
    );
}
