//! A database written by the previous release opens, migrates, and keeps
//! every request it held: the fixture is that release's schema (7) with
//! engine requests of every kind in its old `run_requests` table, some
//! waiting and some answered. After the upgrade each is one typed request,
//! and a starting engine answers the waiting ones.

use std::sync::Arc;
use std::time::Duration;

use slipway_core::clock::SystemClock;
use slipway_core::model::{EngineRequest, ExecutionId, Started};
use slipway_core::store::Store;

const FIXTURE: &str = include_str!("fixtures/schema-7.sql");

fn previous_release_database(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("slipway.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(FIXTURE).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 7, "the fixture is the previous release's schema");
    path
}

fn request(json: serde_json::Value) -> EngineRequest {
    serde_json::from_value(json).unwrap()
}

#[test]
fn the_previous_release_database_migrates_with_every_request_typed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&previous_release_database(dir.path())).unwrap();
    let by_id = |id: &str| store.engine_request(id).unwrap().unwrap();

    let run = by_id("req-run");
    assert_eq!(
        run.request,
        request(
            serde_json::json!({"kind": "run", "pipeline": "shop/release",
            "revision": "v1.2", "variables": {"GREETING": "hi"}, "trigger": "manual"})
        )
    );
    assert!(!run.taken && run.started.is_none() && run.error.is_none());
    assert_eq!(
        by_id("req-retry").request,
        request(serde_json::json!({"kind": "retry", "execution": "exec-41"}))
    );
    assert_eq!(
        by_id("req-rollback").request,
        request(
            serde_json::json!({"kind": "rollback", "environment": "production",
            "pipeline": "shop/release"})
        )
    );
    assert_eq!(
        by_id("req-rollback-to").request,
        request(serde_json::json!({"kind": "rollback", "environment": "staging", "to": "dep-7"}))
    );
    let done = by_id("req-done");
    assert!(done.taken);
    assert_eq!(
        done.started,
        Some(Started::Execution(ExecutionId("exec-40".into())))
    );
    let refused = by_id("req-refused");
    assert!(refused.taken && refused.started.is_none());
    assert!(refused.error.unwrap().contains("`qa`"));

    assert_eq!(store.engine_requests(100).unwrap().len(), 6, "none lost");
    assert_eq!(store.repositories().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_after_the_upgrade_answers_the_requests_left_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let store = Arc::new(Store::open(&previous_release_database(data)).unwrap());
    let (events, _) = tokio::sync::broadcast::channel(16);
    let hosted = slipway_core::engine::HostedEngine::start(
        store.clone(),
        data,
        Arc::new(SystemClock),
        events,
        1,
    )
    .unwrap()
    .expect("no other engine");
    let serving = tokio::spawn(hosted.serve());
    let waiting = ["req-run", "req-retry", "req-rollback", "req-rollback-to"];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let answered: Vec<_> = waiting
            .iter()
            .map(|id| store.engine_request(id).unwrap().unwrap())
            .filter(|r| r.error.is_some() || r.started.is_some())
            .collect();
        if answered.len() == waiting.len() {
            // Nothing they name exists here (the repository's folder is
            // gone, no execution or deployment was kept): each is refused
            // with a reason and a code, none is left hanging.
            for r in &answered {
                assert!(r.taken);
                assert!(r.error_code.is_some(), "{r:?}");
            }
            let rollback = store.engine_request("req-rollback").unwrap().unwrap();
            assert!(
                rollback.error.unwrap().contains("production"),
                "the refusal names the environment"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the engine answers every waiting request"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    serving.abort();
}
