//! What happens around a deployment, as a release manager sees it: alarms
//! that roll a bad revision back during its bake, a stage whose later
//! action fails undoing its deployment (`on-failure: rollback`), appspec
//! hooks in CodeDeploy's order with its variables, the `command` provider's
//! deploy / verify / rollback, and a rollback whose artifact is gone.
//! Real `slipway` processes, real services, real HTTP on 127.0.0.1.
#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;

use support::deploy::{pipeline, Env, Hammer};

#[test]
fn an_error_rate_alarm_during_the_bake_rolls_back() {
    let env = Env::with(
        |port| {
            pipeline(port, 2,
                "    strategy: blue-green\n    bake: 4s\n    alarms:\n      - error-rate: { above: 5%, window: 10s }",
                "",
                "",
            )
        },
        &[],
    );
    assert!(env.release("v1", &[]));
    env.wait_serving("v1");
    let hammer = Hammer::start(env.port);
    // v2 is healthy by its check, but answers users with 500s.
    assert!(!env.release("v2", &[("app/status", "500")]));
    let tally = hammer.finish();
    env.wait_serving("v1");
    let history = env.deployments();
    assert_eq!(history[0]["initiator"], "auto-rollback", "{history:#?}");
    assert_eq!(history[1]["status"], "RolledBack");
    let failed = env
        .world
        .json(&["deployment", history[1]["id"].as_str().unwrap(), "--json"]);
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("error rate"), "{error}");
    println!(
        "FIGURE error-rate alarm: {} of {} requests failed before the rollback",
        tally.failures, tally.requests
    );
}

#[test]
fn a_command_alarm_rolls_back_an_in_place_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("in-alarm");
    let alarm = format!(
        "    strategy: one-at-a-time\n    bake: 10s\n    alarms:\n      - command: \"test ! -e {}\"",
        flag.display()
    );
    let env = Env::with(|port| pipeline(port, 2, &alarm, "", ""), &[]);
    assert!(env.release("v1", &[]));
    env.wait_serving("v1");
    env.repo.commit(&[("app/version", "v2")], "release v2");
    let mut run = env.world.spawn(&["run", "shop/web", "--wait"]);
    // Once v2 serves everywhere (the bake), the alarm goes off.
    env.wait_serving("v2");
    std::fs::write(&flag, "").unwrap();
    assert!(!run.wait().unwrap().success(), "the alarm fails the run");
    env.wait_serving("v1");
    let history = env.deployments();
    assert_eq!(history[0]["initiator"], "auto-rollback", "{history:#?}");
    assert_eq!(history[0]["status"], "Succeeded");
    assert_eq!(history[1]["status"], "RolledBack");
    assert!(history[1]["error"].as_str().unwrap().contains("alarm"));
}

#[test]
fn a_failed_stage_with_on_failure_rollback_undoes_its_deployment() {
    // The smoke test after the deploy fails on v2.
    let smoke = r#"      - name: smoke
        type: command
        run-order: 2
        commands: ["! grep -q v2 app/version"]"#;
    let env = Env::with(
        |port| {
            pipeline(
                port,
                2,
                "    strategy: blue-green",
                "    on-failure: rollback",
                smoke,
            )
        },
        &[],
    );
    assert!(env.release("v1", &[]));
    assert!(!env.release("v2", &[]), "the smoke test fails the stage");
    env.wait_serving("v1");
    let history = env.deployments();
    assert_eq!(history.len(), 3, "{history:#?}");
    assert_eq!(history[0]["initiator"], "auto-rollback");
    assert_eq!(history[0]["status"], "Succeeded");
    assert_eq!(
        history[0]["rollback_of"], history[1]["id"],
        "the stage's own deployment is undone"
    );
    assert_eq!(history[1]["status"], "Succeeded", "v2 itself deployed fine");
    assert_eq!(history[0]["revision"], history[2]["revision"]);
}

const APPSPEC: &str = r#"version: 0.0
os: linux
files:
  - source: /
    destination: /srv/app
hooks:
  ApplicationStop:
    - location: hooks/record.sh
  BeforeInstall:
    - location: hooks/record.sh
  AfterInstall:
    - location: hooks/record.sh
  ApplicationStart:
    - location: hooks/record.sh
  ValidateService:
    - location: hooks/record.sh
      timeout: 30
  BeforeAllowTraffic:
    - location: hooks/record.sh
  AfterAllowTraffic:
    - location: hooks/record.sh
  BeforeBlockTraffic:
    - location: hooks/record.sh
  AfterBlockTraffic:
    - location: hooks/record.sh
"#;

#[test]
fn appspec_hooks_run_in_codedeploy_order_with_its_variables() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("hooks.log");
    let script = format!(
        "#!/bin/sh\necho \"$(cat version) $LIFECYCLE_EVENT $APPLICATION_NAME $DEPLOYMENT_GROUP_NAME $DEPLOYMENT_ID\" >> {}\n",
        record.display()
    );
    let env = Env::with(
        |port| pipeline(port, 1, "    strategy: one-at-a-time", "", ""),
        &[
            ("app/appspec.yml", APPSPEC),
            ("app/hooks/record.sh", &script),
        ],
    );
    assert!(env.release("v1", &[]));
    assert!(env.release("v2", &[]));
    env.wait_serving("v2");
    let lines: Vec<String> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let history = env.deployments();
    let v2_id = history[0]["id"].as_str().unwrap();
    let v2: Vec<String> = lines
        .iter()
        .filter(|l| l.ends_with(v2_id))
        .map(|l| {
            let words: Vec<&str> = l.split(' ').collect();
            assert_eq!(words[2], "shop/web", "{l}");
            assert_eq!(words[3], "staging", "{l}");
            format!("{} {}", words[0], words[1])
        })
        .collect();
    // In place: the previous revision's stop and block-traffic scripts,
    // then the new revision's.
    assert_eq!(
        v2,
        [
            "v1 BeforeBlockTraffic",
            "v1 AfterBlockTraffic",
            "v1 ApplicationStop",
            "v2 BeforeInstall",
            "v2 AfterInstall",
            "v2 ApplicationStart",
            "v2 ValidateService",
            "v2 BeforeAllowTraffic",
            "v2 AfterAllowTraffic",
        ],
        "{lines:#?}"
    );
    // A first deployment has no previous revision to stop.
    assert!(!lines
        .iter()
        .any(|l| l.starts_with("v1 ApplicationStop")
            && l.ends_with(history[1]["id"].as_str().unwrap())));
    // `files` went inside the instance, never to the real /srv.
    let installed = env
        .world
        .data()
        .join("environments/shop-web.staging/blue/instances/0/root/srv/app/version");
    assert_eq!(std::fs::read_to_string(installed).unwrap().trim(), "v2");
    assert!(!std::path::Path::new("/srv/app/version").exists());
    let detail = env.world.json(&["deployment", v2_id, "--json"]);
    let events: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(
        events.contains(&"BlockTraffic") && events.contains(&"AllowTraffic"),
        "{events:?}"
    );
}

/// v1's ApplicationStop script fails: it runs when v2 replaces v1.
const BROKEN_STOP: &str = r#"version: 0.0
os: linux
hooks:
  ApplicationStop:
    - location: hooks/stop.sh
"#;
const STOP_SCRIPT: &str =
    "#!/bin/sh\n[ \"$(cat version)\" != v1 ] || { echo 'v1 cannot stop cleanly' >&2; exit 4; }\n";

#[test]
fn a_broken_application_stop_blocks_the_next_revision_unless_ignored() {
    let files = [
        ("app/appspec.yml", BROKEN_STOP),
        ("app/hooks/stop.sh", STOP_SCRIPT),
    ];
    // As CodeDeploy: the previous revision's failing ApplicationStop fails
    // the deployment. Its automatic rollback goes past that same script (a
    // rollback must be able to restore) and v1 serves again.
    let strict = Env::with(
        |port| pipeline(port, 1, "    strategy: one-at-a-time", "", ""),
        &files,
    );
    assert!(strict.release("v1", &[]));
    assert!(!strict.release("v2", &[]));
    strict.wait_serving("v1");
    let history = strict.deployments();
    assert_eq!(history[1]["status"], "RolledBack", "{history:#?}");
    assert!(
        history[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("ApplicationStop")),
        "{history:#?}"
    );
    assert_eq!(history[0]["initiator"], "auto-rollback");
    assert_eq!(history[0]["status"], "Succeeded", "{history:#?}");

    // `ignore-application-stop-failures: true`: logged, and v2 goes on.
    let lenient = Env::with(
        |port| {
            pipeline(
                port,
                1,
                "    strategy: one-at-a-time\n    ignore-application-stop-failures: true",
                "",
                "",
            )
        },
        &files,
    );
    assert!(lenient.release("v1", &[]));
    assert!(lenient.release("v2", &[]));
    lenient.wait_serving("v2");
    let v2 = lenient.deployments()[0]["id"].as_str().unwrap().to_string();
    let detail = lenient.world.json(&["deployment", &v2, "--json"]);
    let stop = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "ApplicationStop")
        .cloned()
        .expect("an ApplicationStop event");
    assert_eq!(stop["status"], "Failed", "{stop}");
    assert!(
        stop["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ignored"),
        "{stop}"
    );
    assert_eq!(detail["status"], "Succeeded");
}

#[test]
fn a_rollback_whose_artifact_is_gone_is_refused_and_changes_nothing() {
    let env = Env::with(
        |port| pipeline(port, 2, "    strategy: blue-green", "", ""),
        &[],
    );
    assert!(env.release("v1", &[]));
    assert!(env.release("v2", &[]));
    let history = env.deployments();
    let v1_artifact = history[1]["artifact"].as_str().unwrap();
    std::fs::remove_file(
        env.world
            .data()
            .join("artifacts/manifests")
            .join(v1_artifact),
    )
    .unwrap();
    let out = env.world.run(&["rollback", "staging"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no longer kept"), "{err}");
    assert_eq!(env.deployments().len(), 2, "no half-made rollback record");
    env.wait_serving("v2");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(env.serves().as_deref(), Some("v2"));
}

#[test]
fn the_command_provider_deploys_verifies_and_rolls_back_with_its_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deploys.txt");
    let o = out.display();
    let env = Env::with(
        |_| {
            format!(
                r#"version: 1
name: web
variables:
  VERSION: v1
environments:
  prod:
    provider: command
    deploy: ["echo deploy #{{variables.VERSION}} from $(cat app/version) >> {o}"]
    verify: ["test #{{variables.VERSION}} != v3"]
    rollback: ["echo rollback to #{{rollback.VERSION}} at #{{rollback.REVISION}} >> {o}"]
stages:
  - name: Release
    actions:
      - {{ name: deploy, type: deploy, environment: prod }}
"#
            )
        },
        &[],
    );
    let run = |version: &str| {
        env.repo.commit(&[("app/version", version)], version);
        env.world
            .run(&[
                "run",
                "shop/web",
                "--wait",
                "--var",
                &format!("VERSION={version}"),
            ])
            .status
            .success()
    };
    assert!(run("v1"));
    assert!(run("v2"));
    assert!(!run("v3"), "verify fails on v3");
    let text = std::fs::read_to_string(&out).unwrap();
    let history = env.world.json(&["deployments", "prod", "--json"]);
    let v2_commit = history[2]["revision"].as_str().unwrap().to_string();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "deploy v1 from v1",
            "deploy v2 from v2",
            "deploy v3 from v3",
            &format!("rollback to v2 at {v2_commit}"),
        ]
    );
    assert_eq!(history[0]["initiator"], "auto-rollback");
    assert_eq!(history[0]["status"], "Succeeded");
    assert_eq!(history[1]["status"], "RolledBack");
    assert_eq!(history[1]["provider"], "command");
    // The command's output is in the deployment's log.
    let log = std::fs::read_to_string(history[1]["log"].as_str().unwrap()).unwrap();
    assert!(log.contains("test v3 != v3"), "{log}");
}

#[test]
fn stopping_a_canary_puts_all_traffic_back_on_the_old_set() {
    let env = Env::with(
        |port| {
            pipeline(
                port,
                2,
                "    strategy: { type: canary, percent: 50, interval: 5m }",
                "",
                "",
            )
        },
        &[],
    );
    assert!(env.release("v1", &[]));
    env.wait_serving("v1");
    env.repo.commit(&[("app/version", "v2")], "release v2");
    let mut run = env.world.spawn(&["run", "shop/web", "--wait"]);
    env.world.wait_until("the canary to take traffic", || {
        let mut conn = None;
        (0..10).any(
            |_| matches!(support::deploy::get(&mut conn, env.port), Ok((200, ref b)) if b == "v2"),
        )
    });
    let id = env.world.latest_execution().unwrap();
    let out = env.world.run(&["stop", &id, "--abandon"]);
    assert!(out.status.success());
    assert!(!run.wait().unwrap().success());
    env.wait_serving("v1");
    let history = env.deployments();
    assert_eq!(history[0]["status"], "Stopped", "{history:#?}");
    assert_eq!(history.len(), 2, "a stop is not rolled back as a failure");
    let execution = env.world.json(&["execution", &id, "--json"]);
    assert_eq!(execution["status"], "Stopped");
}
