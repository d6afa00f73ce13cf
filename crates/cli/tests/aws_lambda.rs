//! The `lambda` provider as a release manager uses it: a real pipeline run
//! by a real `slipway watch` deploys a function in moto (standing in for
//! AWS; the real SDK client reaches it through `AWS_ENDPOINT_URL`) with the
//! environment account's STS session (a profile whose keys are in the real
//! keychain, `tests/with-keyring.sh`), and the real AWS CLI creates the
//! function and reads its alias while traffic moves. CloudWatch alarms are
//! driven with `set-alarm-state`: moto stores an alarm's state but
//! evaluates no metric, so the test sets it as CloudWatch would on its
//! threshold. Moto answers Lambda invokes without Docker (it runs no
//! function code: it echoes the payload, or answers what a test queued).
#![cfg(target_os = "linux")]

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use support::aws::{
    finish, pipeline, post_json, text, Aws, Project, Serve, LONG_TERM_KEY_ID, LONG_TERM_SECRET,
    REGION,
};

const FUNCTION: &str = "orders-api";
const ROLE: &str = "arn:aws:iam::123456789012:role/lambda";
const ALARM: &str = "orders-api-errors";

/// The project's python (moto's and the AWS CLI's), for zips and hashes.
fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python3")
}

/// A zip of `files` written by Python's zipfile.
fn zip_of(dir: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let path = dir.join(name);
    let script = "import json, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n    for n, t in json.loads(sys.argv[2]):\n        z.writestr(n, t)\n";
    let list = serde_json::to_string(files).unwrap();
    let out = Command::new(python())
        .args(["-c", script, path.to_str().unwrap(), &list])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// Lambda's CodeSha256 of a file: base64 of its SHA-256.
fn code_sha256(path: &Path) -> String {
    let out = Command::new(python())
        .args([
            "-c",
            "import base64, hashlib, sys; print(base64.b64encode(hashlib.sha256(open(sys.argv[1], 'rb').read()).digest()).decode())",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Creates `name` in moto (python3.12, the role above, which moto wants
/// to exist), from a small zip.
fn create_function(aws: &Aws, name: &str) {
    let role = aws.cli_output("iam", &["get-role", "--role-name", "lambda"]);
    if !role.status.success() {
        aws.cli(
            "iam",
            &[
                "create-role",
                "--role-name",
                "lambda",
                "--assume-role-policy-document",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            ],
        );
    }
    let zip = zip_of(
        aws.world.dir.path(),
        &format!("{name}-initial.zip"),
        &[(
            "handler.py",
            "def handler(event, context):\n    return 'initial'\n",
        )],
    );
    let created = aws.cli(
        "lambda",
        &[
            "create-function",
            "--function-name",
            name,
            "--runtime",
            "python3.12",
            "--role",
            ROLE,
            "--handler",
            "handler.handler",
            "--zip-file",
            &format!("fileb://{}", zip.display()),
        ],
    );
    assert_eq!(created["FunctionName"], name, "{created:#?}");
}

/// The alias as the AWS CLI reads it: its version and additional weights.
fn alias_of(aws: &Aws, alias: &str) -> (String, HashMap<String, f64>) {
    let a = aws.cli(
        "lambda",
        &["get-alias", "--function-name", FUNCTION, "--name", alias],
    );
    let weights = a["RoutingConfig"]["AdditionalVersionWeights"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
                .collect()
        })
        .unwrap_or_default();
    (a["FunctionVersion"].as_str().unwrap().to_string(), weights)
}

fn no_weights() -> HashMap<String, f64> {
    HashMap::new()
}

/// The environment `api`: the function above, account `prod` in
/// eu-west-1, and `extra` (indented 4).
fn api(extra: &str) -> String {
    format!(
        "    provider: lambda\n    account: prod\n    region: {REGION}\n    function: {FUNCTION}\n{extra}"
    )
}

/// A project whose pipeline packages `app/` (built with `build`) and
/// deploys it to `api` defined by `extra`.
fn project(aws: Aws, extra: &str, build: &[&str], files: &[(&str, &str)]) -> Project {
    let mut all = vec![(
        "app/handler.py",
        "def handler(event, context):\n    return 'v1'\n",
    )];
    all.extend_from_slice(files);
    aws.project(&pipeline("api", &api(extra), "app", build), &all)
}

/// `files` and a marker naming the release, so that every release is a
/// new commit.
fn with_marker<'a>(message: &'a str, files: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = files.to_vec();
    all.push(("app/release", message));
    all
}

/// Commits and runs the pipeline to its end; whether it succeeded.
fn release(p: &Project, message: &str, files: &[(&str, &str)]) -> bool {
    p.release(message, &with_marker(message, files))
}

/// A run of the pipeline started in the background (`run --wait`).
fn start_run(p: &Project, message: &str, files: &[(&str, &str)]) -> Child {
    p.start_run(message, &with_marker(message, files))
}

/// Polls the alias while `run` goes on, until `seen` accepts a state;
/// returns it (panics if the run ended first).
fn watch_alias(
    aws: &Aws,
    run: &mut Child,
    what: &str,
    mut seen: impl FnMut(&(String, HashMap<String, f64>)) -> bool,
) -> (String, HashMap<String, f64>) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let state = alias_of(aws, "live");
        if seen(&state) {
            return state;
        }
        assert!(
            run.try_wait().unwrap().is_none(),
            "the run ended before the alias showed {what} (last seen {state:?})"
        );
        assert!(Instant::now() < deadline, "the alias never showed {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn events(p: &Project, id: &str) -> Vec<serde_json::Value> {
    p.deployment(id)["events"].as_array().unwrap().clone()
}

fn event_names(p: &Project, id: &str) -> Vec<String> {
    events(p, id)
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

fn id_of(d: &serde_json::Value) -> String {
    d["id"].as_str().unwrap().to_string()
}

/// A traffic hook that writes what it was given (never a secret's value)
/// to `file`, one `key=value` a line, after a `phase=` line.
fn recorder(file: &Path) -> String {
    format!(
        r#"out={}
{{
  echo "phase=$1"
  echo "key_id=${{AWS_ACCESS_KEY_ID:-}}"
  if [ -n "${{AWS_SECRET_ACCESS_KEY:-}}" ]; then echo "secret=set"; else echo "secret=unset"; fi
  if [ -n "${{AWS_SESSION_TOKEN:-}}" ]; then echo "token=set"; else echo "token=unset"; fi
  echo "region=${{AWS_REGION:-}}"
  echo "version=${{SLIPWAY_LAMBDA_VERSION:-}}"
  echo "argument=$2"
  echo "previous=${{SLIPWAY_LAMBDA_PREVIOUS_VERSION:-}}"
}} >> "$out"
"#,
        file.display()
    )
}

/// The recorder's lines of `phase`, the last time it ran, as a map.
fn recorded(file: &Path, phase: &str) -> HashMap<String, String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut runs: Vec<HashMap<String, String>> = Vec::new();
    for line in text.lines() {
        let (k, v) = line.split_once('=').unwrap();
        if k == "phase" {
            runs.push(HashMap::new());
        }
        runs.last_mut().unwrap().insert(k.into(), v.into());
    }
    runs.into_iter()
        .rfind(|r| r.get("phase").map(String::as_str) == Some(phase))
        .unwrap_or_else(|| panic!("no `{phase}` run of the hook in {text}"))
}

#[test]
fn a_canary_sends_ten_percent_to_the_new_version_then_all_with_hooks_holding_the_session() {
    let aws = Aws::start();
    create_function(&aws, FUNCTION);
    let hook_file = aws.world.dir.path().join("hook-env.txt");
    let p = project(
        aws,
        "    strategy: {type: canary, percent: 10, interval: 8s}\n    hooks:\n      before-allow-traffic: [\"sh record.sh before #{deploy.VERSION}\"]\n      after-allow-traffic: [\"sh record.sh after #{deploy.VERSION}\"]\n",
        &["true"],
        &[("app/record.sh", &recorder(&hook_file))],
    );

    // The first deployment creates the alias on the published version:
    // nothing to shift from.
    assert!(release(&p, "v1", &[]));
    assert_eq!(alias_of(&p.aws, "live"), ("1".to_string(), no_weights()));
    let first = p.history("api")[0].clone();
    assert_eq!(first["status"], "Succeeded", "{first:#?}");
    assert_eq!(first["strategy"], "canary 10% for 8s");
    assert_eq!(
        event_names(&p, &id_of(&first)),
        [
            "UpdateFunctionCode",
            "PublishVersion",
            "BeforeAllowTraffic",
            "AllowTraffic 100%",
            "AfterAllowTraffic"
        ]
    );

    // v2: 10% to version 2 while the alias stays on 1, for the interval.
    let serve = Serve::start(&p);
    let mut run = start_run(
        &p,
        "v2",
        &[(
            "app/handler.py",
            "def handler(event, context):\n    return 'v2'\n",
        )],
    );
    let split = watch_alias(&p.aws, &mut run, "10% to version 2", |(_, w)| !w.is_empty());
    assert_eq!(
        split,
        ("1".to_string(), HashMap::from([("2".to_string(), 0.1)])),
        "the canary step: version 1 keeps 90%"
    );
    let during = serve.serving("api");
    assert_eq!(
        during["summary"], "alias live → version 1 (10% to version 2)",
        "{during:#?}"
    );
    assert_eq!(
        during["traffic"],
        serde_json::json!([
            {"name": "version 1", "percent": 90.0},
            {"name": "version 2", "percent": 10.0}
        ])
    );
    assert!(during["error"].is_null(), "{during:#?}");
    let out = finish(run);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(alias_of(&p.aws, "live"), ("2".to_string(), no_weights()));

    let history = p.history("api");
    let second = &history[0];
    assert_eq!(second["status"], "Succeeded", "{history:#?}");
    let detail = p.deployment(&id_of(second));
    assert_eq!(
        detail["record"],
        serde_json::json!({"provider": "lambda", "function": FUNCTION, "alias": "live", "version": "2", "previous": "1"})
    );
    let names = event_names(&p, &id_of(second));
    assert_eq!(
        names,
        [
            "UpdateFunctionCode",
            "PublishVersion",
            "BeforeAllowTraffic",
            "AllowTraffic 10%",
            "AllowTraffic 100%",
            "AfterAllowTraffic"
        ]
    );
    let ev = events(&p, &id_of(second));
    let held = ev[4]["started_at"].as_i64().unwrap() - ev[3]["ended_at"].as_i64().unwrap();
    assert!(held >= 8000, "the canary held {held} ms, not the interval");

    // The hooks ran with the account's session (not the long-term key),
    // in the environment's region, knowing the version.
    let (session_key, _) = p.session();
    for phase in ["before", "after"] {
        let r = recorded(&hook_file, phase);
        assert!(!r["key_id"].is_empty(), "{r:?}");
        assert_ne!(r["key_id"], LONG_TERM_KEY_ID, "{r:?}");
        assert_eq!(r["key_id"], session_key, "the cached session: {r:?}");
        assert_eq!(r["secret"], "set", "{r:?}");
        assert_eq!(r["token"], "set", "{r:?}");
        assert_eq!(r["region"], REGION, "{r:?}");
        assert_eq!(r["version"], "2", "{r:?}");
        assert_eq!(
            r["argument"], "2",
            "#{{deploy.VERSION}} is the published version: {r:?}"
        );
        assert_eq!(r["previous"], "1", "{r:?}");
    }

    // What serves now, with the code's facts.
    let after = serve.serving("api");
    assert_eq!(after["summary"], "alias live → version 2", "{after:#?}");
    assert_eq!(
        after["traffic"],
        serde_json::json!([{"name": "version 2", "percent": 100.0}])
    );
    let facts: HashMap<String, String> = after["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["label"].as_str().unwrap().to_string(),
                f["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(facts["function"], FUNCTION);
    assert_eq!(facts["version"], "2");
    let v2 = p.aws.cli(
        "lambda",
        &[
            "get-function-configuration",
            "--function-name",
            FUNCTION,
            "--qualifier",
            "2",
        ],
    );
    assert_eq!(facts["code sha256"], v2["CodeSha256"].as_str().unwrap());
    p.assert_secrets_absent(&[LONG_TERM_SECRET, &p.session().1], &[text(&out)]);
}

#[test]
fn a_linear_shift_takes_each_step_and_a_package_is_uploaded_as_it_is() {
    let aws = Aws::start();
    create_function(&aws, FUNCTION);
    let p = project(
        aws,
        "    package: function.zip\n    strategy: {type: linear, percent: 50, interval: 5s}\n",
        &["true"],
        &[],
    );
    let package = |name: &str, body: &str| {
        let zip = zip_of(p.world().dir.path(), name, &[("handler.py", body)]);
        std::fs::copy(&zip, p.repo.path.join("app/function.zip")).unwrap();
        code_sha256(&zip)
    };
    package("v1.zip", "def handler(e, c):\n    return 1\n");
    assert!(release(&p, "v1", &[]));
    let v2_sha = package("v2.zip", "def handler(e, c):\n    return 2\n");
    let mut run = start_run(&p, "v2", &[]);
    let half = watch_alias(&p.aws, &mut run, "50% to version 2", |(_, w)| !w.is_empty());
    assert_eq!(
        half,
        ("1".to_string(), HashMap::from([("2".to_string(), 0.5)]))
    );
    let out = finish(run);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(alias_of(&p.aws, "live"), ("2".to_string(), no_weights()));

    let d = p.history("api")[0].clone();
    assert_eq!(d["strategy"], "linear 50% every 5s");
    let ev = events(&p, &id_of(&d));
    let shifts: Vec<&serde_json::Value> = ev
        .iter()
        .filter(|e| e["event"].as_str().unwrap().starts_with("AllowTraffic"))
        .collect();
    let names: Vec<&str> = shifts
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["AllowTraffic 50%", "AllowTraffic 100%"]);
    let held = shifts[1]["started_at"].as_i64().unwrap() - shifts[0]["ended_at"].as_i64().unwrap();
    assert!(held >= 5000, "the 50% step held {held} ms");

    // The version's code is the package's bytes, not a zip of the files.
    let v2 = p.aws.cli(
        "lambda",
        &[
            "get-function-configuration",
            "--function-name",
            FUNCTION,
            "--qualifier",
            "2",
        ],
    );
    assert_eq!(v2["CodeSha256"], v2_sha.as_str(), "{v2:#?}");
}

/// `aws cloudwatch put-metric-alarm` for [`ALARM`].
fn put_alarm(aws: &Aws) {
    aws.cli(
        "cloudwatch",
        &[
            "put-metric-alarm",
            "--alarm-name",
            ALARM,
            "--namespace",
            "AWS/Lambda",
            "--metric-name",
            "Errors",
            "--dimensions",
            &format!("Name=FunctionName,Value={FUNCTION}"),
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

fn set_alarm(aws: &Aws, state: &str, reason: &str) {
    aws.cli(
        "cloudwatch",
        &[
            "set-alarm-state",
            "--alarm-name",
            ALARM,
            "--state-value",
            state,
            "--state-reason",
            reason,
        ],
    );
}

#[test]
fn an_alarm_in_the_bake_or_the_canary_puts_the_alias_back_on_the_previous_version() {
    let aws = Aws::start();
    create_function(&aws, FUNCTION);
    put_alarm(&aws);
    let p = project(
        aws,
        &format!(
            "    strategy: {{type: canary, percent: 10, interval: 5s}}\n    bake: 10s\n    alarms:\n      - cloudwatch: {ALARM}\n"
        ),
        &["true"],
        &[],
    );
    set_alarm(&p.aws, "OK", "quiet");
    assert!(release(&p, "v1", &[]));
    assert_eq!(alias_of(&p.aws, "live").0, "1");

    // v2 takes all traffic; in its bake the errors alarm goes off (set by
    // hand: moto evaluates no metric).
    let mut run = start_run(
        &p,
        "v2",
        &[(
            "app/handler.py",
            "def handler(e, c):\n    raise Exception('v2')\n",
        )],
    );
    watch_alias(&p.aws, &mut run, "all on version 2", |(v, w)| {
        v == "2" && w.is_empty()
    });
    set_alarm(&p.aws, "ALARM", "Threshold Crossed: 3 Errors in 1 minute");
    let out = finish(run);
    assert!(
        !out.status.success(),
        "the alarm fails the run: {}",
        text(&out)
    );
    assert_eq!(alias_of(&p.aws, "live"), ("1".to_string(), no_weights()));
    let history = p.history("api");
    assert_eq!(history[0]["initiator"], "auto-rollback", "{history:#?}");
    assert_eq!(history[0]["status"], "Succeeded", "{history:#?}");
    assert_eq!(history[0]["rollback_of"], history[1]["id"], "{history:#?}");
    assert_eq!(history[1]["status"], "RolledBack", "{history:#?}");
    let failed = p.deployment(&id_of(&history[1]));
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("CloudWatch alarm `{ALARM}` is in ALARM"))
            && error.contains("Threshold Crossed: 3 Errors in 1 minute"),
        "{error}"
    );
    let bake = events(&p, &id_of(&history[1]))
        .into_iter()
        .find(|e| e["event"] == "Bake")
        .expect("a Bake event");
    assert_eq!(bake["status"], "Failed", "{bake:#?}");
    let rollback = p.deployment(&id_of(&history[0]));
    assert_eq!(rollback["record"]["version"], "1", "{rollback:#?}");
    assert_eq!(rollback["record"]["previous"], "2", "{rollback:#?}");

    // v3 while the alarm still rings: the canary step takes 10%, the
    // first alarm reading in its hold ends it, and the alias never stays
    // split: every request back on version 1. (The alarm is set before
    // the run, so that no slow CLI call can let the hold run out first.)
    set_alarm(&p.aws, "ALARM", "Threshold Crossed: 5 Errors in 1 minute");
    let run = start_run(
        &p,
        "v3",
        &[("app/handler.py", "def handler(e, c):\n    return 3\n")],
    );
    let out = finish(run);
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(alias_of(&p.aws, "live"), ("1".to_string(), no_weights()));
    let history = p.history("api");
    assert_eq!(history[0]["initiator"], "auto-rollback", "{history:#?}");
    assert_eq!(history[1]["status"], "RolledBack", "{history:#?}");
    let names = event_names(&p, &id_of(&history[1]));
    assert!(
        names.ends_with(&["AllowTraffic 10%".to_string(), "BlockTraffic".to_string()]),
        "the canary step, then traffic blocked: {names:?}"
    );
    assert!(
        !names.contains(&"AllowTraffic 100%".to_string()),
        "{names:?}"
    );
    let error = p.deployment(&id_of(&history[1]))["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("5 Errors in 1 minute"), "{error}");
}

#[test]
fn rollback_puts_the_alias_back_on_the_previous_version_as_a_new_deployment() {
    let aws = Aws::start();
    create_function(&aws, FUNCTION);
    let p = project(aws, "    strategy: all-at-once\n", &["true"], &[]);
    assert!(release(&p, "v1", &[]));
    assert!(release(
        &p,
        "v2",
        &[("app/handler.py", "def handler(e, c):\n    return 2\n")]
    ));
    assert_eq!(alias_of(&p.aws, "live"), ("2".to_string(), no_weights()));
    let before = p.history("api");
    assert_eq!(before[0]["strategy"], "all-at-once");
    let current = id_of(&before[0]);

    let out = p.world().run(&["rollback", "api", "--wait", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let rollback: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rollback["status"], "Succeeded", "{rollback:#?}");
    assert_eq!(rollback["initiator"], "user");
    assert_eq!(rollback["rollback_of"], current.as_str());
    assert_eq!(rollback["revision"], before[1]["revision"]);
    assert_eq!(alias_of(&p.aws, "live"), ("1".to_string(), no_weights()));
    let detail = p.deployment(&id_of(&rollback));
    assert_eq!(detail["record"]["version"], "1");
    assert_eq!(event_names(&p, &id_of(&rollback)), ["AllowTraffic 100%"]);

    // And back again: the rollback recorded what it made, so it can be
    // rolled back in turn.
    let out = p.world().run(&["rollback", "api", "--wait", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["rollback_of"], rollback["id"]);
    assert_eq!(alias_of(&p.aws, "live"), ("2".to_string(), no_weights()));
}

#[test]
fn a_wrong_function_name_fails_with_the_aws_error_and_no_secret_anywhere() {
    let aws = Aws::start();
    create_function(&aws, FUNCTION);
    let env = "    provider: lambda\n    account: prod\n    region: eu-west-1\n    function: orders-apx\n";
    let p = aws.project(
        &pipeline("api", env, "app", &["true"]),
        &[("app/handler.py", "def handler(e, c):\n    return 1\n")],
    );
    p.repo.commit(&with_marker("v1", &[]), "v1");
    let run = p.world().run(&["run", "shop/rel", "--wait"]);
    assert!(!run.status.success());
    let history = p.history("api");
    assert_eq!(history[0]["status"], "Failed", "{history:#?}");
    let detail = p.deployment(&id_of(&history[0]));
    let error = detail["error"].as_str().unwrap();
    assert!(
        error.contains("UpdateFunctionCode failed: ResourceNotFoundException")
            && error.contains("orders-apx")
            && error.contains("profile `prod`, eu-west-1"),
        "{error}"
    );
    assert!(detail["record"].is_null(), "nothing was made: {detail:#?}");
    let log = std::fs::read_to_string(detail["log"].as_str().unwrap()).unwrap();
    let exec = p.world().latest_execution().unwrap();
    let logs = p.world().run(&["logs", &exec]);
    let listing = p.world().run(&["deployments", "api"]);
    let shown = p.world().run(&["deployment", &id_of(&history[0])]);
    assert!(
        text(&shown).contains("UpdateFunctionCode failed"),
        "{}",
        text(&shown)
    );
    p.assert_secrets_absent(
        &[LONG_TERM_SECRET, &p.session().1],
        &[
            text(&run),
            log,
            text(&logs),
            text(&listing),
            text(&shown),
            detail.to_string(),
        ],
    );
}

#[test]
fn an_appspec_shifts_to_its_target_version_and_its_hook_functions_decide() {
    let aws = Aws::start();
    create_function(&aws, FUNCTION);
    create_function(&aws, "orders-smoke");
    // Versions 1 and 2 published beforehand (as SAM would), the alias on 1.
    for body in ["return 1", "return 2"] {
        let zip = zip_of(
            aws.world.dir.path(),
            "v.zip",
            &[("handler.py", &format!("def handler(e, c):\n    {body}\n"))],
        );
        aws.cli(
            "lambda",
            &[
                "update-function-code",
                "--function-name",
                FUNCTION,
                "--zip-file",
                &format!("fileb://{}", zip.display()),
            ],
        );
        aws.cli("lambda", &["publish-version", "--function-name", FUNCTION]);
    }
    aws.cli(
        "lambda",
        &[
            "create-alias",
            "--function-name",
            FUNCTION,
            "--name",
            "live",
            "--function-version",
            "1",
        ],
    );
    let appspec = |current: &str, target: &str| {
        format!(
            "version: 0.0\nResources:\n  - api:\n      Type: AWS::Lambda::Function\n      Properties:\n        Name: {FUNCTION}\n        Alias: live\n        CurrentVersion: {current}\n        TargetVersion: {target}\nHooks:\n  - BeforeAllowTraffic: orders-smoke\n"
        )
    };
    let moto = aws.moto.url.clone();
    let p = project(
        aws,
        "    strategy: all-at-once\n",
        &["true"],
        &[("app/appspec.yml", &appspec("1", "2"))],
    );
    assert!(release(&p, "to 2", &[]));
    assert_eq!(alias_of(&p.aws, "live"), ("2".to_string(), no_weights()));
    let d = p.history("api")[0].clone();
    let ev = events(&p, &id_of(&d));
    let names: Vec<(&str, &str)> = ev
        .iter()
        .map(|e| {
            (
                e["instance"].as_str().unwrap(),
                e["event"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("orders-smoke", "BeforeAllowTraffic"),
            (FUNCTION, "AllowTraffic 100%")
        ],
        "no upload: the appspec names the version"
    );
    let detail = p.deployment(&id_of(&d));
    assert_eq!(detail["record"]["version"], "2");
    assert_eq!(detail["record"]["previous"], "1");

    // Version 3, whose smoke hook answers Failed: no traffic moves.
    let zip = zip_of(p.world().dir.path(), "v3.zip", &[("handler.py", "x = 3\n")]);
    p.aws.cli(
        "lambda",
        &[
            "update-function-code",
            "--function-name",
            FUNCTION,
            "--zip-file",
            &format!("fileb://{}", zip.display()),
        ],
    );
    p.aws
        .cli("lambda", &["publish-version", "--function-name", FUNCTION]);
    post_json(
        &moto,
        "/moto-api/static/lambda-simple/response",
        &serde_json::json!({
            "results": [r#"{"status": "Failed", "reason": "GET /orders answered 500"}"#],
            "region": REGION,
            "account_id": "123456789012"
        })
        .to_string(),
    );
    assert!(!release(
        &p,
        "to 3",
        &[("app/appspec.yml", &appspec("2", "3"))]
    ));
    assert_eq!(alias_of(&p.aws, "live"), ("2".to_string(), no_weights()));
    let history = p.history("api");
    let failed = p.deployment(&id_of(&history[1]));
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains(
            "hook function `orders-smoke`: the function reported status Failed: GET /orders answered 500"
        ),
        "{error}"
    );
    assert_eq!(history[0]["initiator"], "auto-rollback", "{history:#?}");

    // An appspec whose CurrentVersion is not what the alias serves is
    // refused before anything moves.
    assert!(!release(
        &p,
        "stale",
        &[("app/appspec.yml", &appspec("1", "3"))]
    ));
    assert_eq!(alias_of(&p.aws, "live").0, "2");
    let newest = p.history("api");
    let stale = newest
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["initiator"] != "auto-rollback")
        .unwrap();
    let error = p.deployment(&id_of(stale))["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("the appspec's CurrentVersion is 1, but alias `live` serves version 2"),
        "{error}"
    );
}
