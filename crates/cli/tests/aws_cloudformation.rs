//! The `cloudformation` provider as a release manager uses it: a stack
//! released through change sets by the real `slipway watch` engine with
//! the environment account's STS session (a profile whose keys are in the
//! real keychain, from `tests/with-keyring.sh`), against CloudFormation,
//! SSM, SQS and STS served by moto; the real AWS CLI reads back the stack,
//! its parameters and the resources it made. The templates are checked by
//! cfn-lint (from `.venv`). Real HTTP on 127.0.0.1, no mocks.
//!
//! What moto cannot show: it runs a change set inside ExecuteChangeSet and
//! reports no resource events, so a resource that fails makes that call
//! fail (real CloudFormation accepts the call, then reports the resource's
//! CREATE_FAILED event and rolls the stack back to UPDATE_ROLLBACK_COMPLETE;
//! that path is covered by the provider's unit tests on such events).
//! Moto also shows no stack outputs after a change set.
#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use support::aws::{facts, Aws, Project, Serve, LONG_TERM_SECRET, REGION};

const STACK: &str = "orders-infra";

/// v1: one SSM parameter holding the release (the `Version` parameter).
const V1: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Description: Orders infrastructure
Parameters:
  Env:
    Type: String
    AllowedValues: [staging, prod]
  Version:
    Type: String
    Description: The release the orders service runs
Resources:
  Release:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/orders/${Env}/version"
      Type: String
      Value: !Ref Version
Outputs:
  ReleaseParameter:
    Value: !Ref Release
"#;

/// v2: the parameter gets a description (a Modify), and a queue is new.
const V2: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Description: Orders infrastructure
Parameters:
  Env:
    Type: String
    AllowedValues: [staging, prod]
  Version:
    Type: String
    Description: The release the orders service runs
Resources:
  Release:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/orders/${Env}/version"
      Description: !Sub "The orders release on ${Env}"
      Type: String
      Value: !Ref Version
  Orders:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "orders-${Env}"
      MessageRetentionPeriod: 86400
Outputs:
  ReleaseParameter:
    Value: !Ref Release
  QueueUrl:
    Value: !Ref Orders
"#;

/// v3: valid CloudFormation (cfn-lint passes it) that fails when it runs:
/// its new `Owner` parameter's name is already taken in the account.
const V3_BROKEN: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Description: Orders infrastructure
Parameters:
  Env:
    Type: String
    AllowedValues: [staging, prod]
  Version:
    Type: String
    Description: The release the orders service runs
Resources:
  Release:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/orders/${Env}/version"
      Description: !Sub "The orders release on ${Env}"
      Type: String
      Value: !Ref Version
  Orders:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "orders-${Env}"
      MessageRetentionPeriod: 86400
  Owner:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/orders/${Env}/owner"
      Type: String
      Value: orders-team
Outputs:
  ReleaseParameter:
    Value: !Ref Release
  QueueUrl:
    Value: !Ref Orders
"#;

/// The pipeline: a build that exports `VERSION` (from `infra/version`)
/// in namespace `Build` and packages `infra/`, then a deploy to `infra`.
fn pipeline(extra: &str) -> String {
    format!(
        r##"version: 1
name: rel
environments:
  infra:
    provider: cloudformation
    account: prod
    region: {REGION}
    stack: {STACK}
    template: template.yml
    parameters: {{ Env: prod, Version: "#{{Build.VERSION}}" }}
    capabilities: [CAPABILITY_IAM]
{extra}
stages:
  - name: Build
    actions:
      - name: package
        type: build
        namespace: Build
        outputs: [out]
        buildspec:
          version: 0.2
          env:
            exported-variables: [VERSION]
          phases:
            build:
              commands: ["export VERSION=$(cat infra/version)"]
          artifacts:
            base-directory: infra
            files: ["**/*"]
  - name: Deploy
    actions:
      - {{ name: deploy, type: deploy, environment: infra, inputs: [out] }}
"##
    )
}

/// A release's files: the template and the version it exports.
fn release<'a>(template: &'a str, version: &'a str) -> [(&'a str, &'a str); 2] {
    [("infra/template.yml", template), ("infra/version", version)]
}

/// The stack as `aws cloudformation describe-stacks` shows it.
fn stack(aws: &Aws) -> serde_json::Value {
    let out = aws.cli(
        "cloudformation",
        &["describe-stacks", "--stack-name", STACK],
    );
    out["Stacks"][0].clone()
}

fn stack_parameters(stack: &serde_json::Value) -> BTreeMap<String, String> {
    stack["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["ParameterKey"].as_str().unwrap().to_string(),
                p["ParameterValue"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// An SSM parameter's value (`None`: there is no such parameter).
fn ssm(aws: &Aws, name: &str) -> Option<String> {
    let out = aws.cli_output("ssm", &["get-parameter", "--name", name]);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("ParameterNotFound"), "{err}");
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Parameter"]["Value"].as_str().map(str::to_string)
}

fn queue_exists(aws: &Aws, name: &str) -> bool {
    let out = aws.cli("sqs", &["list-queues", "--queue-name-prefix", name]);
    out["QueueUrls"]
        .as_array()
        .is_some_and(|urls| urls.iter().any(|u| u.as_str().unwrap().ends_with(name)))
}

fn pairs(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `(action, logical id, type)` of a record's changes, sorted.
fn changes(record: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = record["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                c["logical_id"].as_str().unwrap().to_string(),
                c["resource_type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn change(action: &str, logical: &str, kind: &str) -> (String, String, String) {
    (action.into(), logical.into(), kind.into())
}

/// The deployment's event `name`: `(status, message)`.
fn event(detail: &serde_json::Value, name: &str) -> (String, String) {
    let e = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == name)
        .unwrap_or_else(|| panic!("no {name} event: {detail:#}"));
    (
        e["status"].as_str().unwrap().to_string(),
        e["message"].as_str().unwrap_or_default().to_string(),
    )
}

fn log_of(detail: &serde_json::Value) -> String {
    std::fs::read_to_string(detail["log"].as_str().unwrap()).unwrap()
}

/// The newest deployment to `infra` in full, after checking its status.
fn newest(p: &Project, status: &str) -> serde_json::Value {
    let history = p.history("infra");
    let d = &history[0];
    assert_eq!(d["status"], status, "{history:#}");
    p.deployment(d["id"].as_str().unwrap())
}

fn timed(what: &str, started: Instant) {
    eprintln!("{what}: {:.1}s", started.elapsed().as_secs_f64());
}

#[test]
fn a_stack_is_created_updated_left_usable_by_a_broken_template_and_rolled_back() {
    let t = Instant::now();
    let aws = Aws::start();
    // No automatic rollback: the failure stays for the person to see.
    let p = aws.project(&pipeline("    auto-rollback: []"), &[]);

    // v1 creates the stack through a CREATE change set.
    assert!(p.release("v1", &release(V1, "v1")));
    timed("v1", t);
    let v1 = newest(&p, "Succeeded");
    assert_eq!(v1["strategy"], "change set");
    let s = stack(&p.aws);
    assert_eq!(s["StackStatus"], "CREATE_COMPLETE", "{s:#}");
    assert_eq!(
        stack_parameters(&s),
        BTreeMap::from([
            ("Env".to_string(), "prod".to_string()),
            ("Version".to_string(), "v1".to_string())
        ])
    );
    assert_eq!(ssm(&p.aws, "/orders/prod/version").as_deref(), Some("v1"));
    let record = &v1["record"];
    assert_eq!(record["provider"], "cloudformation");
    assert_eq!(record["stack"], STACK);
    assert_eq!(record["stack_id"], s["StackId"]);
    assert_eq!(record["status"], "CREATE_COMPLETE");
    assert_eq!(
        changes(record),
        [change("Add", "Release", "AWS::SSM::Parameter")]
    );
    assert_eq!(
        pairs(&record["parameters"]),
        owned(&[("Env", "prod"), ("Version", "v1")])
    );
    let (status, message) = event(&v1, "ExecuteChangeSet");
    assert_eq!(
        (status.as_str(), message.as_str()),
        ("Succeeded", "CREATE_COMPLETE")
    );
    let log = log_of(&v1);
    assert!(
        log.contains("orders-infra: orders-infra (AWS::CloudFormation::Stack) CREATE_COMPLETE"),
        "the stack's events are in the log:\n{log}"
    );

    // v2 updates it through a change set whose changes the record keeps.
    assert!(p.release("v2", &release(V2, "v2")));
    timed("v2", t);
    let v2 = newest(&p, "Succeeded");
    let record = &v2["record"];
    assert_eq!(
        changes(record),
        [
            change("Add", "Orders", "AWS::SQS::Queue"),
            change("Modify", "Release", "AWS::SSM::Parameter"),
        ]
    );
    assert_eq!(
        record["change_set"],
        format!("slipway-{}", v2["id"].as_str().unwrap())
    );
    assert_eq!(record["status"], "UPDATE_COMPLETE");
    let (status, message) = event(&v2, "CreateChangeSet");
    assert_eq!(status, "Succeeded");
    assert!(
        message.contains("Modify Release (AWS::SSM::Parameter)")
            && message.contains("Add Orders (AWS::SQS::Queue)"),
        "{message}"
    );
    let s = stack(&p.aws);
    assert_eq!(s["StackStatus"], "UPDATE_COMPLETE");
    assert_eq!(stack_parameters(&s)["Version"], "v2");
    assert_eq!(ssm(&p.aws, "/orders/prod/version").as_deref(), Some("v2"));
    assert!(queue_exists(&p.aws, "orders-prod"));
    // Every change set the stack has was executed: none is left over.
    let sets = p.aws.cli(
        "cloudformation",
        &["list-change-sets", "--stack-name", STACK],
    );
    assert!(
        sets["Summaries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ExecutionStatus"] == "EXECUTE_COMPLETE"),
        "{sets:#}"
    );

    // What the Environments page shows, read from the account.
    let serve = Serve::start(&p);
    let serving = serve.serving("infra");
    assert_eq!(
        serving["summary"], "orders-infra UPDATE_COMPLETE",
        "{serving:#}"
    );
    assert!(serving["error"].is_null(), "{serving:#}");
    let shown = facts(&serving);
    assert_eq!(
        shown[0],
        ("status".to_string(), "UPDATE_COMPLETE".to_string())
    );
    assert!(shown.iter().any(|(l, _)| l == "last updated"), "{shown:?}");
    assert!(
        shown.contains(&("parameter".to_string(), "Version=v2".to_string())),
        "{shown:?}"
    );

    // The same revision again: the change set would change nothing, so
    // the deployment succeeds without touching the stack.
    let again = p.world().run(&["run", "shop/rel", "--wait"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    timed("v2 again", t);
    let same = newest(&p, "Succeeded");
    assert_ne!(same["id"], v2["id"]);
    assert_eq!(changes(&same["record"]), []);
    assert!(same["record"]["change_set"].is_null());
    let (_, message) = event(&same, "CreateChangeSet");
    assert!(message.starts_with("no changes"), "{message}");
    assert_eq!(
        pairs(&same["record"]["parameters"]),
        owned(&[("Env", "prod"), ("Version", "v2")])
    );

    // v3 adds a parameter whose name someone already took by hand: the
    // stack cannot make it, and the deployment says why.
    p.aws.cli(
        "ssm",
        &[
            "put-parameter",
            "--name",
            "/orders/prod/owner",
            "--type",
            "String",
            "--value",
            "made-by-hand",
        ],
    );
    assert!(!p.release("v3", &release(V3_BROKEN, "v3")));
    timed("v3", t);
    let v3 = newest(&p, "Failed");
    let error = v3["error"].as_str().unwrap();
    assert!(error.contains("already exists"), "{error}");
    assert!(error.contains("stack orders-infra"), "{error}");
    let record = &v3["record"];
    assert!(
        record["reason"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{record:#}"
    );
    assert!(
        !record["reason"].as_str().unwrap().contains("profile"),
        "the reason is AWS's, without where: {record:#}"
    );
    assert_eq!(
        changes(record),
        [change("Add", "Owner", "AWS::SSM::Parameter")],
        "moto lists only the template's diff, not the parameter change"
    );
    // The stack still runs v2 and is not stuck in an operation.
    let s = stack(&p.aws);
    let status = s["StackStatus"].as_str().unwrap();
    assert!(status.ends_with("_COMPLETE"), "{status}");
    assert_eq!(ssm(&p.aws, "/orders/prod/version").as_deref(), Some("v2"));
    assert_eq!(
        ssm(&p.aws, "/orders/prod/owner").as_deref(),
        Some("made-by-hand")
    );

    // Rollback: back to v1's template and parameters, as a new deployment.
    let out = p.world().run(&["rollback", "infra", "--wait", "--json"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    timed("rollback", t);
    let rollback: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rollback["status"], "Succeeded", "{rollback:#}");
    assert_eq!(rollback["initiator"], "user");
    assert_eq!(rollback["rollback_of"], same["id"], "undoes what served");
    assert_eq!(rollback["revision"], v1["revision"]);
    let record = &rollback["record"];
    assert_eq!(
        pairs(&record["parameters"]),
        owned(&[("Env", "prod"), ("Version", "v1")])
    );
    assert!(
        changes(record).contains(&change("Remove", "Orders", "AWS::SQS::Queue")),
        "{record:#}"
    );
    let s = stack(&p.aws);
    assert_eq!(s["StackStatus"], "UPDATE_COMPLETE");
    assert_eq!(stack_parameters(&s)["Version"], "v1");
    assert_eq!(ssm(&p.aws, "/orders/prod/version").as_deref(), Some("v1"));
    assert!(!queue_exists(&p.aws, "orders-prod"), "v1 has no queue");
    let template = p
        .aws
        .cli("cloudformation", &["get-template", "--stack-name", STACK]);
    assert_eq!(template["TemplateBody"], V1);

    // A stack that is gone: the page says so, with AWS's words.
    p.aws
        .cli("cloudformation", &["delete-stack", "--stack-name", STACK]);
    let serving = serve.serving("infra");
    let error = serving["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("DescribeStacks failed: ValidationError: ")
            && error.contains("orders-infra"),
        "{serving:#}"
    );
    assert_eq!(serving["summary"], "orders-infra unknown");

    p.assert_secrets_absent(&[LONG_TERM_SECRET, &p.session().1], &[]);
    timed("total", t);
}

#[test]
fn a_failed_release_is_rolled_back_by_default_and_the_rollback_finds_nothing_to_change() {
    let t = Instant::now();
    let aws = Aws::start();
    // `auto-rollback` unset: every cause rolls back.
    let p = aws.project(&pipeline(""), &[]);
    assert!(p.release("v1", &release(V1, "v1")));
    p.aws.cli(
        "ssm",
        &[
            "put-parameter",
            "--name",
            "/orders/prod/owner",
            "--type",
            "String",
            "--value",
            "made-by-hand",
        ],
    );
    assert!(!p.release("v3", &release(V3_BROKEN, "v3")));
    timed("v1, then v3 rolled back", t);
    let history = p.history("infra");
    assert_eq!(history[0]["initiator"], "auto-rollback", "{history:#}");
    assert_eq!(history[0]["status"], "Succeeded", "{history:#}");
    assert_eq!(
        history[0]["revision"], history[2]["revision"],
        "{history:#}"
    );
    assert_eq!(history[1]["status"], "RolledBack", "{history:#}");
    let failed = p.deployment(history[1]["id"].as_str().unwrap());
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("already exists"), "{error}");
    // The stack still had v1's template and parameters (real
    // CloudFormation rolls a failed update back itself; moto never applied
    // v3's parameters): the rollback's change set changes nothing, and it
    // succeeds without executing one.
    let rollback = p.deployment(history[0]["id"].as_str().unwrap());
    let (status, message) = event(&rollback, "CreateChangeSet");
    assert_eq!(status, "Succeeded");
    assert!(
        message.contains("no changes") && message.contains("didn't contain changes"),
        "{message}"
    );
    assert!(
        rollback["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["event"] != "ExecuteChangeSet"),
        "{rollback:#}"
    );
    assert_eq!(
        pairs(&rollback["record"]["parameters"]),
        owned(&[("Env", "prod"), ("Version", "v1")])
    );
    // No change set is left behind.
    let sets = p.aws.cli(
        "cloudformation",
        &["list-change-sets", "--stack-name", STACK],
    );
    let names: Vec<&str> = sets["Summaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["ChangeSetName"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&format!("slipway-{}", history[0]["id"].as_str().unwrap()).as_str()),
        "{sets:#}"
    );
    let s = stack(&p.aws);
    assert!(
        s["StackStatus"].as_str().unwrap().ends_with("_COMPLETE"),
        "{s:#}"
    );
    assert_eq!(ssm(&p.aws, "/orders/prod/version").as_deref(), Some("v1"));
    let template = p
        .aws
        .cli("cloudformation", &["get-template", "--stack-name", STACK]);
    assert_eq!(template["TemplateBody"], V1);
}

#[test]
fn the_templates_the_tests_deploy_are_valid_cloudformation_and_cfn_lint_would_say_otherwise() {
    let lint = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/cfn-lint");
    assert!(
        lint.exists(),
        "{} is missing: run `make test` once (it installs cfn-lint into .venv)",
        lint.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, body: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, body).unwrap();
        Command::new(&lint)
            .args(["--regions", REGION, "--"])
            .arg(&file)
            .output()
            .unwrap()
    };
    for (name, body) in [("v1.yml", V1), ("v2.yml", V2), ("v3.yml", V3_BROKEN)] {
        let out = run(name, body);
        assert!(
            out.status.success(),
            "{name}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The same check refuses a template with a misspelt property.
    let out = run(
        "typo.yml",
        &V1.replace("Value: !Ref Version", "Valeu: !Ref Version"),
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("'Valeu' was unexpected"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
