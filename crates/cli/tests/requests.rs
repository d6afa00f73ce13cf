//! Every surface asks the engine the same way: the CLI's rollback, with an
//! engine running (`slipway watch`) and with none, leaves the same typed
//! request in the data directory's mailbox as the window and the tray do
//! (see the core's api tests for those two), answered with the deployment
//! it started.
#![cfg(target_os = "linux")]

mod support;

use slipway_core::model::{DeploymentId, EngineRequest, RollbackRequest, Started};
use slipway_core::store::{EngineRequestRecord, Store};
use support::deploy::{pipeline, Env};

fn blue_green() -> Env {
    Env::with(
        |port| pipeline(port, 1, "    strategy: blue-green", "", ""),
        &[],
    )
}

fn latest_request(env: &Env) -> EngineRequestRecord {
    let store = Store::open(&env.world.data().join("slipway.db")).unwrap();
    store.engine_requests(1).unwrap().remove(0)
}

fn rollback_json(env: &Env) -> serde_json::Value {
    let out = env.world.run(&["rollback", "staging", "--wait", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_cli_rollback_is_one_typed_request_with_an_engine_running_and_without() {
    let mut env = blue_green();
    assert!(env.release("v1", &[]));
    assert!(env.release("v2", &[]));
    env.wait_serving("v2");
    let asked = EngineRequest::Rollback(RollbackRequest {
        environment: "staging".into(),
        pipeline: None,
        to: None,
    });

    // The engine (`slipway watch`) takes the request from the mailbox.
    let rollback = rollback_json(&env);
    env.wait_serving("v1");
    let row = latest_request(&env);
    assert_eq!(row.request, asked);
    assert_eq!(row.host, Some(slipway_core::model::Host::Cli));
    assert!(row.taken);
    let id = rollback["id"].as_str().unwrap().to_string();
    assert_eq!(row.started, Some(Started::Deployment(DeploymentId(id))));

    // No engine: the command carries the same request out itself, and the
    // mailbox still records it with the deployment it started.
    let mut engine = env.engine.take().unwrap();
    engine.kill().unwrap();
    let _ = engine.wait();
    let rollback = rollback_json(&env);
    assert_eq!(rollback["status"], "Succeeded", "{rollback:#}");
    assert_eq!(rollback["initiator"], "user");
    let row = latest_request(&env);
    assert_eq!(row.request, asked);
    assert!(row.taken, "taken at once by the process that asked");
    let id = rollback["id"].as_str().unwrap().to_string();
    assert_eq!(row.started, Some(Started::Deployment(DeploymentId(id))));
    assert_eq!(
        env.deployments()[0]["revision"],
        env.deployments()[2]["revision"],
        "back on v2"
    );
}

#[test]
fn a_refused_request_keeps_its_error_code_all_the_way_to_json() {
    let env = blue_green();
    let out = env.world.run(&["rollback", "staging", "--json"]);
    assert!(!out.status.success());
    let error: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("JSON on stdout: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(error["error"]["code"], "not_found", "{error:#}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no environment `staging`"),
        "{error:#}"
    );
    let row = latest_request(&env);
    assert_eq!(
        row.error_code,
        Some(slipway_core::model::ErrorCode::NotFound)
    );
    assert!(row.started.is_none());
}
