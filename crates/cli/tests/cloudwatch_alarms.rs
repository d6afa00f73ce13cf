//! `cloudwatch:` alarms on a local environment, as a release manager uses
//! them: the real `slipway watch` engine reads the alarms' state from
//! CloudWatch (a moto server) with the environment account's STS session
//! (a profile whose keys are in the real keychain, from
//! `tests/with-keyring.sh`; the session from moto's STS), and the real AWS
//! CLI creates and drives the alarm. The engine's processes get
//! `AWS_ENDPOINT_URL` (moto, for STS) and `AWS_ENDPOINT_URL_CLOUDWATCH`:
//! moto speaks CloudWatch's JSON and query protocols but not the CBOR one
//! the Rust SDK sends, so CloudWatch calls pass through
//! `support::cbor_bridge`, which re-encodes bodies and nothing else.
//! Real services, real HTTP on 127.0.0.1.
#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use std::process::Command;

use support::cbor_bridge::CborBridge;
use support::deploy::{pipeline, Env};
use support::{require_keyring, run_with_stdin, Moto, World};

const LONG_TERM_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzCLOUDWATCH";
const ALARM: &str = "orders-api-errors";

/// The environment's part of the pipeline: blue-green with a bake long
/// enough for the test to ring the alarm in it, `alarms` under it.
fn staging(alarms: &str) -> String {
    format!(
        "    strategy: blue-green\n    bake: 8s\n    account: prod\n    region: eu-west-1\n    alarms:\n{alarms}"
    )
}

/// Moto behind its CloudWatch bridge.
struct Aws {
    moto: Moto,
    bridge: CborBridge,
}

impl Aws {
    fn start() -> Aws {
        let moto = Moto::start();
        let bridge = CborBridge::start(&moto.url);
        Aws { moto, bridge }
    }
}

/// An engine hosting `env_extra`'s environment, whose every `slipway`
/// process (the engine among them) gets `vars`; the profile `prod` (keys
/// in the keychain) exists.
fn env_with(vars: &[(&str, &str)], env_extra: &str) -> Env {
    require_keyring();
    let world = World::with_env(vars);
    let env = Env::in_world(world, |port| pipeline(port, 2, env_extra, "", ""), &[]);
    let out = run_with_stdin(
        env.world.slipway(),
        &[
            "creds",
            "add",
            "prod",
            "--access-key-id",
            "AKIAEXAMPLECW",
            "--region",
            "us-east-1",
        ],
        &format!("{LONG_TERM_SECRET}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env
}

/// [`env_with`] sending STS calls to moto and CloudWatch calls to its
/// bridge.
fn env_on(aws: &Aws, env_extra: &str) -> Env {
    env_with(
        &[
            ("AWS_ENDPOINT_URL", &aws.moto.url),
            ("AWS_ENDPOINT_URL_CLOUDWATCH", &aws.bridge.url),
        ],
        env_extra,
    )
}

/// `aws cloudwatch ARGS` against moto in eu-west-1 (the environment's
/// region, not the profile's).
fn cloudwatch(moto: &Moto, args: &[&str]) {
    let aws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/aws");
    let out = Command::new(aws)
        .args([
            "--endpoint-url",
            &moto.url,
            "--region",
            "eu-west-1",
            "cloudwatch",
        ])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "aws cloudwatch {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn put_alarm(moto: &Moto, name: &str) {
    cloudwatch(
        moto,
        &[
            "put-metric-alarm",
            "--alarm-name",
            name,
            "--namespace",
            "Orders",
            "--metric-name",
            "5xx",
            "--statistic",
            "Sum",
            "--period",
            "60",
            "--evaluation-periods",
            "1",
            "--threshold",
            "1",
            "--comparison-operator",
            "GreaterThanOrEqualToThreshold",
        ],
    );
}

fn error_of(env: &Env, deployment: &serde_json::Value) -> String {
    let detail = env
        .world
        .json(&["deployment", deployment["id"].as_str().unwrap(), "--json"]);
    detail["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_cloudwatch_alarm_in_alarm_during_the_bake_rolls_back_and_an_ok_one_lets_it_through() {
    let aws = Aws::start();
    let moto = &aws.moto;
    put_alarm(moto, ALARM);
    let env = env_on(&aws, &staging(&format!("      - cloudwatch: {ALARM}")));

    // The alarm is OK (moto's state for a new alarm): v1, then v2, deploy
    // and bake normally, the alarm read all along.
    assert!(env.release("v1", &[]));
    env.wait_serving("v1");
    cloudwatch(
        moto,
        &[
            "set-alarm-state",
            "--alarm-name",
            ALARM,
            "--state-value",
            "OK",
            "--state-reason",
            "back to normal",
        ],
    );
    assert!(env.release("v2", &[]));
    env.wait_serving("v2");
    let history = env.deployments();
    assert_eq!(history[0]["status"], "Succeeded", "{history:#?}");
    assert_eq!(history[1]["status"], "Succeeded", "{history:#?}");

    // v3: once it serves (its bake), the alarm goes off. Moto stores an
    // alarm's state but evaluates no metric, so the test sets the state
    // itself (SetAlarmState), as CloudWatch would on its threshold.
    env.repo.commit(&[("app/version", "v3")], "release v3");
    let mut run = env.world.spawn(&["run", "shop/web", "--wait"]);
    env.wait_serving("v3");
    cloudwatch(
        moto,
        &[
            "set-alarm-state",
            "--alarm-name",
            ALARM,
            "--state-value",
            "ALARM",
            "--state-reason",
            "Threshold Crossed: 12 5xx in 1 minute",
        ],
    );
    assert!(!run.wait().unwrap().success(), "the alarm fails the run");
    env.wait_serving("v2");
    let history = env.deployments();
    assert_eq!(history[0]["initiator"], "auto-rollback", "{history:#?}");
    assert_eq!(history[0]["status"], "Succeeded", "{history:#?}");
    assert_eq!(history[1]["status"], "RolledBack", "{history:#?}");
    let error = error_of(&env, &history[1]);
    assert!(
        error.contains(&format!("CloudWatch alarm `{ALARM}` is in ALARM"))
            && error.contains("Threshold Crossed: 12 5xx in 1 minute"),
        "{error}"
    );
    assert!(!error.contains(LONG_TERM_SECRET), "{error}");
}

#[test]
fn an_alarm_that_does_not_exist_fails_the_deployment_naming_it() {
    let aws = Aws::start();
    put_alarm(&aws.moto, ALARM);
    let env = env_on(
        &aws,
        &staging(&format!(
            "      - cloudwatch: {ALARM}\n      - cloudwatch: orders-api-latency"
        )),
    );
    assert!(!env.release("v1", &[]));
    let history = env.deployments();
    assert_ne!(history[0]["status"], "Succeeded", "{history:#?}");
    let error = error_of(&env, &history[0]);
    assert!(
        error.contains("CloudWatch alarm `orders-api-latency` does not exist")
            && error.contains("eu-west-1"),
        "{error}"
    );
}

#[test]
fn an_unreachable_cloudwatch_counts_as_in_alarm_with_the_reason() {
    // STS answers (moto); CloudWatch's own endpoint variable, which wins
    // over AWS_ENDPOINT_URL, points at a port nobody listens on.
    let moto = Moto::start();
    let closed = format!("http://127.0.0.1:{}", support::deploy::free_port());
    let env = env_with(
        &[
            ("AWS_ENDPOINT_URL", &moto.url),
            ("AWS_ENDPOINT_URL_CLOUDWATCH", &closed),
        ],
        &staging(&format!("      - cloudwatch: {ALARM}")),
    );
    assert!(!env.release("v1", &[]));
    let history = env.deployments();
    let error = error_of(&env, &history[0]);
    assert!(
        error.contains(
            "cannot read CloudWatch alarms (profile `prod`, eu-west-1): DescribeAlarms failed"
        ),
        "{error}"
    );
    assert!(!error.contains(LONG_TERM_SECRET), "{error}");
}

#[test]
fn validate_locates_a_cloudwatch_alarm_without_an_account() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".slipway")).unwrap();
    std::fs::write(
        dir.path().join(".slipway/web.yml"),
        "version: 1\nenvironments:\n  staging:\n    run: ./server\n    alarms:\n      - cloudwatch: orders-api-errors\nstages:\n  - name: Deploy\n    actions:\n      - {name: d, type: deploy, environment: staging}\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["validate", ".slipway/web.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            ".slipway/web.yml:6:21: error: the `cloudwatch: orders-api-errors` alarm needs the environment's `account:`"
        ) && stderr.contains("(at environments.staging.alarms[0].cloudwatch)"),
        "{stderr}"
    );
}
