//! Deployments as a release manager lives them: a real service (Python's
//! HTTP server) goes v1 → v2 on a local environment through the real
//! `slipway` binary, with a hosting engine (`slipway watch`) serving the
//! environment's router on 127.0.0.1, while a client hammers the router.
//! Then: automatic rollback of an unhealthy v3, one-command rollback,
//! and a SIGKILL of the engine in the middle of a deployment.
#![cfg(target_os = "linux")]

mod support;

use std::time::{Duration, Instant};

use support::deploy::{get, Env, Hammer, Tally};

fn pipeline(port: u16, strategy: &str, instances: u32, extra: &str) -> String {
    support::deploy::pipeline(
        port,
        instances,
        &format!("    strategy: {strategy}\n{extra}"),
        "",
        "",
    )
}

impl Env {
    fn new(strategy: &str, instances: u32, extra: &str) -> Env {
        Env::with(|port| pipeline(port, strategy, instances, extra), &[])
    }
}

/// v1 → v2 with `strategy` while the router is hammered; returns the tally.
fn v1_to_v2(strategy: &str, instances: u32) -> Tally {
    let env = Env::new(strategy, instances, "");
    assert!(env.release("v1", &[]), "v1 deploys");
    env.wait_serving("v1");
    let hammer = Hammer::start(env.port);
    let began = Instant::now();
    assert!(env.release("v2", &[]), "v2 deploys");
    let took = began.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let tally = hammer.finish();
    println!(
        "FIGURE {strategy} x{instances}: {} requests during the v1->v2 deployment, {} failed; run took {:.1}s",
        tally.requests,
        tally.failures,
        took.as_secs_f64()
    );
    assert_eq!(env.serves().as_deref(), Some("v2"));
    let history = env.deployments();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["status"], "Succeeded");
    assert_eq!(history[0]["initiator"], "pipeline");
    assert_eq!(history[1]["status"], "Succeeded");
    assert!(tally.requests > 100, "the client kept sending: {tally:?}");
    assert_eq!(tally.versions.last().map(String::as_str), Some("v2"));
    tally
}

fn assert_no_failures(tally: &Tally) {
    assert_eq!(
        tally.failures, 0,
        "a healthy deployment drops no request: {tally:?}"
    );
}

#[test]
fn one_at_a_time_drops_no_request() {
    let tally = v1_to_v2("one-at-a-time", 3);
    assert_no_failures(&tally);
    // In place, batch by batch: both versions answered for a while.
    assert_eq!(tally.versions.first().map(String::as_str), Some("v1"));
}

#[test]
fn half_at_a_time_and_codedeploy_names_drop_no_request() {
    assert_no_failures(&v1_to_v2("CodeDeployDefault.HalfAtATime", 4));
}

#[test]
fn rolling_with_a_minimum_healthy_count_drops_no_request() {
    assert_no_failures(&v1_to_v2("{type: rolling, minimum-healthy: 1}", 3));
}

#[test]
fn blue_green_drops_no_request() {
    let tally = v1_to_v2("blue-green", 2);
    assert_no_failures(&tally);
    assert_eq!(tally.versions, vec!["v1", "v2"], "one switch, no flapping");
}

#[test]
fn linear_drops_no_request() {
    assert_no_failures(&v1_to_v2("{type: linear, percent: 50, interval: 2s}", 2));
}

#[test]
fn all_at_once_in_place_may_drop_requests_while_instances_restart() {
    // As in CodeDeploy: every instance restarts at once. Measured, reported.
    let tally = v1_to_v2("all-at-once", 2);
    println!(
        "FIGURE all-at-once dropped {} of {} requests",
        tally.failures, tally.requests
    );
}

#[test]
fn canary_sends_its_share_to_the_new_version_then_all() {
    let env = Env::new("{type: canary, percent: 10, interval: 30s}", 2, "");
    assert!(env.release("v1", &[]));
    env.wait_serving("v1");
    env.repo.commit(&[("app/version", "v2")], "release v2");
    let mut run = env.world.spawn(&["run", "shop/web", "--wait"]);
    // The canary step is on once the deployment records it.
    env.world.wait_until("the canary step", || {
        let history = env.deployments();
        let Some(id) = history.first().and_then(|d| d["id"].as_str()) else {
            return false;
        };
        let detail = env.world.json(&["deployment", id, "--json"]);
        detail["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["event"] == "AllowTraffic 10%"))
    });
    let mut conn = None;
    let mut new = 0;
    let mut failed = 0;
    for _ in 0..2000 {
        match get(&mut conn, env.port) {
            Ok((200, body)) if body == "v2" => new += 1,
            Ok((200, _)) => {}
            _ => failed += 1,
        }
    }
    let share = new as f64 / 2000.0 * 100.0;
    println!("FIGURE canary 10%: {new} of 2000 responses from v2 = {share:.1}%");
    assert_eq!(failed, 0);
    assert!((7.0..=13.0).contains(&share), "10% ± 3%, got {share:.1}%");
    assert!(run.wait().unwrap().success());
    env.wait_serving("v2");
}

#[test]
fn an_unhealthy_v3_is_rolled_back_and_a_rollback_brings_v1_back() {
    let env = Env::new("blue-green", 2, "");
    assert!(env.release("v1", &[]));
    assert!(env.release("v2", &[]));
    env.wait_serving("v2");
    let hammer = Hammer::start(env.port);
    // v3 answers its health check with 500.
    assert!(
        !env.release("v3", &[("app/health", "500")]),
        "the run fails"
    );
    let tally = hammer.finish();
    env.wait_serving("v2");
    assert_no_failures(&tally);
    assert!(!tally.versions.contains(&"v3".to_string()), "{tally:?}");
    let history = env.deployments();
    assert_eq!(history[0]["initiator"], "auto-rollback", "{history:#?}");
    assert_eq!(history[0]["status"], "Succeeded");
    assert_eq!(history[1]["status"], "RolledBack");
    assert_eq!(history[0]["rollback_of"], history[1]["id"]);
    assert_eq!(history[0]["revision"], history[2]["revision"], "back on v2");
    let failed = env
        .world
        .json(&["deployment", history[1]["id"].as_str().unwrap(), "--json"]);
    assert!(
        failed["error"].as_str().unwrap().contains("health check"),
        "{failed:#?}"
    );

    // One command: back to v1, the last good revision before v2 (its set
    // made room for v3's, so this is a redeployment).
    let out = env.world.run(&["rollback", "staging", "--wait", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rollback: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    env.wait_serving("v1");
    assert_eq!(rollback["initiator"], "user");
    assert_eq!(rollback["status"], "Succeeded");
    assert_eq!(rollback["rollback_of"], history[0]["id"]);
    assert_eq!(rollback["revision"], history[3]["revision"], "v1's commit");
    assert_eq!(env.deployments()[0]["id"], rollback["id"]);
}

#[test]
fn a_rollback_inside_termination_wait_is_a_router_switch() {
    let env = Env::new("blue-green", 2, "");
    assert!(env.release("v1", &[]));
    assert!(env.release("v2", &[]));
    env.wait_serving("v2");
    let hammer = Hammer::start(env.port);
    // A second client watches for v1 as closely as it can.
    let port = env.port;
    let watcher = std::thread::spawn(move || {
        let mut conn = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok((200, body)) = get(&mut conn, port) {
                if body == "v1" {
                    return Some(Instant::now());
                }
            }
        }
        None
    });
    let began = Instant::now();
    let out = env.world.run(&["rollback", "staging", "--wait", "--json"]);
    let cli = began.elapsed();
    let served = watcher.join().unwrap().expect("v1 is served again");
    std::thread::sleep(Duration::from_millis(100));
    let tally = hammer.finish();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "FIGURE rollback inside termination-wait: command to v1 served {:.1} ms (the CLI process's whole run {:.1} ms)",
        served.duration_since(began).as_secs_f64() * 1000.0,
        cli.as_secs_f64() * 1000.0
    );
    assert_no_failures(&tally);
    let rollback: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let how = rollback["events"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        how.contains("standby"),
        "a switch, not a redeployment: {rollback:#}"
    );
    for _ in 0..50 {
        assert_eq!(env.serves().as_deref(), Some("v1"));
    }
}

#[test]
fn a_rollback_outside_termination_wait_redeploys_the_kept_artifact() {
    let env = Env::new("one-at-a-time", 2, "");
    let out = env.world.run(&["rollback", "staging"]);
    assert!(
        !out.status.success(),
        "nothing deployed, nothing to roll back"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no environment `staging`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(env.release("v1", &[]));
    // Only one good revision: a clear refusal, and no record of it.
    let out = env.world.run(&["rollback", "staging"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no earlier successful revision"), "{err}");
    assert_eq!(env.deployments().len(), 1, "no record for a refusal");
    assert!(env.release("v2", &[]));
    env.wait_serving("v2");
    let hammer = Hammer::start(env.port);
    let began = Instant::now();
    let out = env.world.run(&["rollback", "staging", "--wait", "--json"]);
    let took = began.elapsed();
    let tally = hammer.finish();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "FIGURE rollback by redeployment (in place, 2 instances): {:.2} s, {} requests, {} failed",
        took.as_secs_f64(),
        tally.requests,
        tally.failures
    );
    env.wait_serving("v1");
    assert_no_failures(&tally);
    let rollback: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<String> = rollback["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert!(kinds.contains(&"DownloadBundle".to_string()), "{kinds:?}");
}

#[test]
fn killing_the_engine_mid_blue_green_leaves_one_consistent_version() {
    let mut env = Env::new("{type: canary, percent: 50, interval: 2m}", 2, "");
    assert!(env.release("v1", &[]));
    env.wait_serving("v1");
    env.repo.commit(&[("app/version", "v2")], "release v2");
    let mut run = env.world.spawn(&["run", "shop/web"]);
    env.world.wait_until("traffic on both sets", || {
        let mut conn = None;
        let seen: Vec<String> = (0..20)
            .filter_map(|_| get(&mut conn, env.port).ok().map(|(_, b)| b))
            .collect();
        seen.contains(&"v1".to_string()) && seen.contains(&"v2".to_string())
    });
    let _ = run.wait();
    let mut engine = env.engine.take().unwrap();
    unsafe { libc::kill(engine.id() as i32, libc::SIGKILL) };
    let _ = engine.wait();
    assert!(env.serves().is_none(), "the router died with its engine");

    env.start_engine();
    env.wait_serving("v1");
    let mut conn = None;
    for _ in 0..200 {
        assert_eq!(get(&mut conn, env.port).map(|(_, b)| b), Ok("v1".into()));
    }
    let history = env.deployments();
    assert_eq!(history[0]["status"], "Interrupted", "{history:#?}");
    assert_eq!(history[1]["status"], "Succeeded");
    // The v2 set's processes did not survive the restart.
    let green = format!(
        "SLIPWAY_EXECUTION_ID=instance:{}:shop-web.staging/green",
        env.world.data().display()
    );
    let leftovers = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .map(|env| {
                    env.split(|b| *b == 0)
                        .any(|v| v.starts_with(green.as_bytes()))
                })
                .unwrap_or(false)
        })
        .count();
    assert_eq!(leftovers, 0, "no instance of the cut deployment runs");
}
