//! The `ecs` provider as a release manager uses it: a real pipeline run by
//! a real `slipway watch` registers the artifact's task definition and
//! deploys an ECS service in moto (standing in for AWS; the real SDK
//! clients reach it through `AWS_ENDPOINT_URL`) with the environment
//! account's STS session (a profile whose keys are in the real keychain,
//! `tests/with-keyring.sh`), and the real AWS CLI creates the cluster, the
//! service, the load balancer and its target groups, and reads the service,
//! its task sets and the listener's weights while traffic moves.
//!
//! What moto cannot show, and how the tests stand in for it:
//! - It runs no container and never moves a service's tasks: a service's
//!   `runningCount` follows `desiredCount` only once UpdateService sets one
//!   (the setup does), its deployment list never changes, and a task set is
//!   `STEADY_STATE` from the start. So a rolling update is steady at once;
//!   waiting on a slow or failing one is covered by the unit tests of
//!   `steady`.
//! - Its tasks in `awsvpc` mode fail to start (CreateTaskSet answers 500:
//!   moto's network interface lacks `private_dns_name`), so the task
//!   definitions here use `bridge` networking and the EC2 launch type, with
//!   one registered container instance to place tasks on, and the target
//!   groups are of type `instance`. The provider copies a task set's
//!   network configuration whatever it is.
#![cfg(target_os = "linux")]

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::aws::{finish, pipeline, text, Aws, Project, LONG_TERM_SECRET, REGION};

const CLUSTER: &str = "main";
const SERVICE: &str = "orders";
const IMAGE: &str = "registry.example.com/orders";

/// A task definition (RegisterTaskDefinition's JSON) of family `orders`
/// whose `web` container runs `image`.
fn taskdef(image: &str) -> String {
    format!(
        r#"{{
  "family": "orders",
  "networkMode": "bridge",
  "requiresCompatibilities": ["EC2"],
  "cpu": "256",
  "memory": "512",
  "containerDefinitions": [
    {{
      "name": "web",
      "image": "{image}",
      "cpu": 128,
      "memory": 256,
      "essential": true,
      "portMappings": [{{"containerPort": 8080, "protocol": "tcp"}}],
      "environment": [{{"name": "MODE", "value": "live"}}],
      "command": ["serve", "--port", "8080"]
    }}
  ]
}}
"#
    )
}

/// The cluster, a container instance to place task sets' tasks on, and
/// revision 1 of `orders` (what served before Slipway).
fn cluster(aws: &Aws) {
    aws.cli("ecs", &["create-cluster", "--cluster-name", CLUSTER]);
    let instance = aws.cli(
        "ec2",
        &[
            "run-instances",
            "--image-id",
            "ami-12c6146b",
            "--count",
            "1",
            "--instance-type",
            "t3.large",
        ],
    );
    let id = instance["Instances"][0]["InstanceId"].as_str().unwrap();
    aws.cli(
        "ecs",
        &[
            "register-container-instance",
            "--cluster",
            CLUSTER,
            "--instance-identity-document",
            &format!(r#"{{"instanceId": "{id}"}}"#),
        ],
    );
    let registered = aws.cli(
        "ecs",
        &[
            "register-task-definition",
            "--cli-input-json",
            &taskdef(&format!("{IMAGE}:initial")),
        ],
    );
    assert_eq!(
        registered["taskDefinition"]["revision"], 1,
        "{registered:#?}"
    );
}

/// A service on ECS's own deployment controller (rolling updates).
fn rolling_service(aws: &Aws) {
    aws.cli(
        "ecs",
        &[
            "create-service",
            "--cluster",
            CLUSTER,
            "--service-name",
            SERVICE,
            "--task-definition",
            "orders:1",
            "--desired-count",
            "2",
        ],
    );
    // Moto starts no task: this sets its runningCount to the desired 2.
    aws.cli(
        "ecs",
        &[
            "update-service",
            "--cluster",
            CLUSTER,
            "--service",
            SERVICE,
            "--desired-count",
            "2",
        ],
    );
}

/// The load balancer in front of a task-set service.
struct Lb {
    listener: String,
    blue: String,
    green: String,
}

/// A VPC with two subnets, an ALB, target groups blue and green, and a
/// listener forwarding to blue; the service on the EXTERNAL controller
/// with a primary task set of revision 1 in blue (as it served before).
fn task_set_service(aws: &Aws) -> Lb {
    let vpc = aws.cli("ec2", &["create-vpc", "--cidr-block", "10.0.0.0/16"])["Vpc"]["VpcId"]
        .as_str()
        .unwrap()
        .to_string();
    let subnet = |cidr: &str, zone: &str| {
        aws.cli(
            "ec2",
            &[
                "create-subnet",
                "--vpc-id",
                &vpc,
                "--cidr-block",
                cidr,
                "--availability-zone",
                zone,
            ],
        )["Subnet"]["SubnetId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let a = subnet("10.0.1.0/24", "eu-west-1a");
    let b = subnet("10.0.2.0/24", "eu-west-1b");
    let lb = aws.cli(
        "elbv2",
        &[
            "create-load-balancer",
            "--name",
            "orders",
            "--subnets",
            &a,
            &b,
        ],
    )["LoadBalancers"][0]["LoadBalancerArn"]
        .as_str()
        .unwrap()
        .to_string();
    let group = |name: &str| {
        aws.cli(
            "elbv2",
            &[
                "create-target-group",
                "--name",
                name,
                "--protocol",
                "HTTP",
                "--port",
                "8080",
                "--vpc-id",
                &vpc,
                "--target-type",
                "instance",
            ],
        )["TargetGroups"][0]["TargetGroupArn"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let blue = group("orders-blue");
    let green = group("orders-green");
    let listener = aws.cli(
        "elbv2",
        &[
            "create-listener",
            "--load-balancer-arn",
            &lb,
            "--protocol",
            "HTTP",
            "--port",
            "80",
            "--default-actions",
            &format!("Type=forward,TargetGroupArn={blue}"),
        ],
    )["Listeners"][0]["ListenerArn"]
        .as_str()
        .unwrap()
        .to_string();
    aws.cli(
        "ecs",
        &[
            "create-service",
            "--cluster",
            CLUSTER,
            "--service-name",
            SERVICE,
            "--desired-count",
            "2",
            "--deployment-controller",
            "type=EXTERNAL",
        ],
    );
    let set = aws.cli(
        "ecs",
        &[
            "create-task-set",
            "--cluster",
            CLUSTER,
            "--service",
            SERVICE,
            "--task-definition",
            "orders:1",
            "--launch-type",
            "EC2",
            "--load-balancers",
            &format!("targetGroupArn={blue},containerName=web,containerPort=8080"),
            "--scale",
            "unit=PERCENT,value=100",
        ],
    );
    let arn = set["taskSet"]["taskSetArn"].as_str().unwrap();
    aws.cli(
        "ecs",
        &[
            "update-service-primary-task-set",
            "--cluster",
            CLUSTER,
            "--service",
            SERVICE,
            "--primary-task-set",
            arn,
        ],
    );
    Lb {
        listener,
        blue,
        green,
    }
}

/// The environment `orders`: the service above, account `prod` in
/// eu-west-1, and `extra` (indented 4).
fn orders(extra: &str) -> String {
    format!(
        "    provider: ecs\n    account: prod\n    region: {REGION}\n    cluster: {CLUSTER}\n    service: {SERVICE}\n{extra}"
    )
}

/// `extra` for a task-set strategy behind `lb`.
fn behind(lb: &Lb, strategy: &str, termination_wait: &str) -> String {
    format!(
        "    strategy: {strategy}\n    termination-wait: {termination_wait}\n    listener: \"{}\"\n    target-groups: [\"{}\", \"{}\"]\n",
        lb.listener, lb.blue, lb.green
    )
}

/// The build writes the image file CodePipeline's standard ECS action
/// reads.
const WITH_IMAGE_DEFINITIONS: [&str; 2] = [
    "mkdir -p out && cp taskdef.json out/",
    r#"printf '[{"name": "web", "imageUri": "registry.example.com/orders:%s"}]' "$(cat version)" > out/imagedefinitions.json"#,
];

/// The build writes the image file CodePipeline's blue/green action reads.
const WITH_IMAGE_DETAIL: [&str; 2] = [
    "mkdir -p out && cp taskdef.json hook.sh out/",
    r#"printf '{"ImageURI": "registry.example.com/orders:%s"}' "$(cat version)" > out/imageDetail.json"#,
];

/// A project whose pipeline builds `out/` with `build` and deploys it to
/// `orders` defined by `extra`; the repository has `taskdef.json` (its
/// web image `image`) and a `version` file.
fn project(aws: Aws, extra: &str, build: &[&str], image: &str, files: &[(&str, &str)]) -> Project {
    let def = taskdef(image);
    let mut all = vec![("taskdef.json", def.as_str()), ("version", "v0")];
    all.extend_from_slice(files);
    aws.project(&pipeline("orders", &orders(extra), "out", build), &all)
}

fn service(aws: &Aws) -> Value {
    aws.cli(
        "ecs",
        &[
            "describe-services",
            "--cluster",
            CLUSTER,
            "--services",
            SERVICE,
        ],
    )["services"][0]
        .clone()
}

fn task_sets(aws: &Aws) -> Vec<Value> {
    aws.cli(
        "ecs",
        &[
            "describe-task-sets",
            "--cluster",
            CLUSTER,
            "--service",
            SERVICE,
        ],
    )["taskSets"]
        .as_array()
        .unwrap()
        .clone()
}

/// The image of `web` in task definition `name` (`orders:2`).
fn image_of(aws: &Aws, name: &str) -> String {
    let d = aws.cli(
        "ecs",
        &["describe-task-definition", "--task-definition", name],
    );
    d["taskDefinition"]["containerDefinitions"][0]["image"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The listener's forward weights by target group ARN, as the AWS CLI
/// reads them (a plain forward is its group at 1).
fn weights(aws: &Aws, listener: &str) -> HashMap<String, i64> {
    let l = aws.cli(
        "elbv2",
        &["describe-listeners", "--listener-arns", listener],
    );
    let action = &l["Listeners"][0]["DefaultActions"][0];
    match action["ForwardConfig"]["TargetGroups"].as_array() {
        Some(groups) => groups
            .iter()
            .map(|g| {
                (
                    g["TargetGroupArn"].as_str().unwrap().to_string(),
                    g["Weight"].as_i64().unwrap(),
                )
            })
            .collect(),
        None => HashMap::from([(action["TargetGroupArn"].as_str().unwrap().to_string(), 1)]),
    }
}

fn split(lb: &Lb, blue: i64, green: i64) -> HashMap<String, i64> {
    HashMap::from([(lb.blue.clone(), blue), (lb.green.clone(), green)])
}

/// The task set in `group`, with its task definition and status.
fn set_in<'a>(sets: &'a [Value], group: &str) -> Option<&'a Value> {
    sets.iter()
        .find(|s| s["loadBalancers"][0]["targetGroupArn"] == group)
}

fn arn_of(v: &Value) -> String {
    v["taskSetArn"].as_str().unwrap().to_string()
}

/// The ARN of revision `n` of `orders`.
fn revision(n: u32) -> String {
    format!("arn:aws:ecs:{REGION}:123456789012:task-definition/orders:{n}")
}

fn id_of(d: &Value) -> String {
    d["id"].as_str().unwrap().to_string()
}

fn event_names(p: &Project, id: &str) -> Vec<String> {
    p.deployment(id)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

/// `slipway rollback orders --wait --json`: the rollback deployment.
fn roll_back(p: &Project) -> Value {
    let out = p.world().run(&["rollback", "orders", "--wait", "--json"]);
    assert!(out.status.success(), "rollback: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A serving's facts by label.
fn facts(serving: &Value) -> HashMap<String, String> {
    support::aws::facts(serving).into_iter().collect()
}

#[test]
fn a_rolling_update_registers_the_image_and_a_rollback_restores_the_task_definition() {
    let aws = Aws::start();
    cluster(&aws);
    rolling_service(&aws);
    let p = project(
        aws,
        "    strategy: rolling\n",
        &WITH_IMAGE_DEFINITIONS,
        "registry.example.com/orders:latest",
        &[],
    );

    assert!(p.release("v1", &[("version", "v1")]));
    let first = p.history("orders")[0].clone();
    assert_eq!(first["status"], "Succeeded", "{first:#?}");
    assert_eq!(first["strategy"], "rolling (minimum healthy 75%)");
    // The new revision has the image imagedefinitions.json names, and the
    // rest of taskdef.json as written.
    assert_eq!(image_of(&p.aws, "orders:2"), format!("{IMAGE}:v1"));
    let def = p.aws.cli(
        "ecs",
        &["describe-task-definition", "--task-definition", "orders:2"],
    )["taskDefinition"]
        .clone();
    let web = &def["containerDefinitions"][0];
    assert_eq!(
        web["environment"],
        serde_json::json!([{"name": "MODE", "value": "live"}])
    );
    assert_eq!(
        web["command"],
        serde_json::json!(["serve", "--port", "8080"])
    );
    assert_eq!(web["portMappings"][0]["containerPort"], 8080);
    assert_eq!(def["networkMode"], "bridge");
    let svc = service(&p.aws);
    assert_eq!(svc["taskDefinition"], revision(2).as_str(), "{svc:#?}");
    // Rolling, 75% healthy of 2 tasks: one kept (all but one at most), a
    // batch of one started beside them.
    assert_eq!(
        svc["deploymentConfiguration"]["minimumHealthyPercent"], 50,
        "{svc:#?}"
    );
    assert_eq!(
        svc["deploymentConfiguration"]["maximumPercent"], 150,
        "{svc:#?}"
    );
    let detail = p.deployment(&id_of(&first));
    assert_eq!(
        detail["record"],
        serde_json::json!({
            "provider": "ecs",
            "cluster": CLUSTER,
            "service": SERVICE,
            "task_definition": revision(2),
            "images": [["web", format!("{IMAGE}:v1")]],
            "task_set": null
        })
    );
    assert_eq!(
        event_names(&p, &id_of(&first)),
        ["RegisterTaskDefinition", "UpdateService", "Steady"]
    );
    let serving = &first["serving"];
    assert_eq!(
        serving["summary"], "orders: taskdef orders:2, 2/2 running",
        "{serving:#?}"
    );
    assert!(serving["error"].is_null(), "{serving:#?}");
    assert_eq!(facts(serving)["task definition"], revision(2));

    assert!(p.release("v2", &[("version", "v2")]));
    let second = p.history("orders")[0].clone();
    assert_eq!(second["status"], "Succeeded", "{second:#?}");
    assert_eq!(image_of(&p.aws, "orders:3"), format!("{IMAGE}:v2"));
    assert_eq!(service(&p.aws)["taskDefinition"], revision(3).as_str());

    // The rollback is a new deployment that puts revision 2 back.
    let rollback = roll_back(&p);
    assert_eq!(rollback["status"], "Succeeded", "{rollback:#?}");
    assert_eq!(rollback["initiator"], "user");
    assert_eq!(rollback["rollback_of"], second["id"]);
    assert_eq!(rollback["record"]["task_definition"], revision(2).as_str());
    assert_eq!(service(&p.aws)["taskDefinition"], revision(2).as_str());
    let names: Vec<&str> = rollback["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["UpdateService", "Steady"]);
    // No new revision was registered for it.
    let revisions = p.aws.cli(
        "ecs",
        &["list-task-definitions", "--family-prefix", "orders"],
    );
    assert_eq!(revisions["taskDefinitionArns"].as_array().unwrap().len(), 3);

    // What serves is read from the account: a deleted service says so.
    p.aws.cli(
        "ecs",
        &[
            "delete-service",
            "--cluster",
            CLUSTER,
            "--service",
            SERVICE,
            "--force",
        ],
    );
    let serving = p.history("orders")[0]["serving"].clone();
    assert_eq!(
        serving["error"],
        "DescribeServices failed: INACTIVE: service `orders` of cluster `main` was deleted",
        "{serving:#?}"
    );
}

#[test]
fn a_canary_weights_the_listener_then_moves_all_and_a_rollback_is_one_weight_change() {
    let aws = Aws::start();
    cluster(&aws);
    let lb = task_set_service(&aws);
    let hook_file = aws.world.dir.path().join("hook.txt");
    let hook = format!(
        "echo \"$1 $SLIPWAY_ECS_TARGET_GROUP $SLIPWAY_ECS_TASK_SET $SLIPWAY_ECS_TASK_DEFINITION\" >> {}\n",
        hook_file.display()
    );
    let extra = format!(
        "{}    hooks:\n      before-allow-traffic: [\"sh hook.sh before\"]\n",
        behind(&lb, "{type: canary, percent: 10, interval: 6s}", "10m")
    );
    let p = project(
        aws,
        &extra,
        &WITH_IMAGE_DETAIL,
        "<IMAGE1_NAME>",
        &[("hook.sh", &hook)],
    );

    // v1 starts in green while blue (revision 1) serves: 10% to it for the
    // interval, both task sets running.
    let mut run = p.start_run("v1", &[("version", "v1")]);
    let deadline = Instant::now() + Duration::from_secs(90);
    while weights(&p.aws, &lb.listener).get(&lb.green) != Some(&10) {
        assert!(
            run.try_wait().unwrap().is_none(),
            "the run ended before the canary step"
        );
        assert!(
            Instant::now() < deadline,
            "the listener never sent 10% to green"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(weights(&p.aws, &lb.listener), split(&lb, 90, 10));
    let sets = task_sets(&p.aws);
    assert_eq!(sets.len(), 2, "{sets:#?}");
    let blue_set = set_in(&sets, &lb.blue).unwrap().clone();
    let green_set = set_in(&sets, &lb.green).unwrap().clone();
    assert_eq!(blue_set["taskDefinition"], revision(1).as_str());
    assert_eq!(blue_set["status"], "PRIMARY");
    assert_eq!(green_set["taskDefinition"], revision(2).as_str());
    assert_eq!(green_set["status"], "ACTIVE");
    assert_eq!(green_set["scale"]["value"], 100.0);
    assert_eq!(
        green_set["launchType"], "EC2",
        "copied from the serving set"
    );
    assert_eq!(green_set["loadBalancers"][0]["containerName"], "web");
    assert_eq!(green_set["loadBalancers"][0]["containerPort"], 8080);
    // The step holds for the interval, not a moment.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(weights(&p.aws, &lb.listener), split(&lb, 90, 10));
    let out = finish(run);
    assert!(out.status.success(), "{}", text(&out));

    // All on green, which is primary; blue stays for termination-wait.
    assert_eq!(weights(&p.aws, &lb.listener), split(&lb, 0, 100));
    let sets = task_sets(&p.aws);
    assert_eq!(sets.len(), 2, "{sets:#?}");
    assert_eq!(set_in(&sets, &lb.green).unwrap()["status"], "PRIMARY");
    assert_eq!(set_in(&sets, &lb.blue).unwrap()["status"], "ACTIVE");
    assert_eq!(image_of(&p.aws, "orders:2"), format!("{IMAGE}:v1"));
    let first = p.history("orders")[0].clone();
    assert_eq!(first["status"], "Succeeded", "{first:#?}");
    assert_eq!(first["strategy"], "canary 10% for 6s");
    let v1_set = arn_of(&green_set);
    let detail = p.deployment(&id_of(&first));
    assert_eq!(
        detail["record"],
        serde_json::json!({
            "provider": "ecs",
            "cluster": CLUSTER,
            "service": SERVICE,
            "task_definition": revision(2),
            "images": [["web", format!("{IMAGE}:v1")]],
            "task_set": v1_set
        })
    );
    let events = detail["events"].as_array().unwrap();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "RegisterTaskDefinition",
            "CreateTaskSet",
            "Steady",
            "BeforeAllowTraffic",
            "AllowTraffic 10%",
            "AllowTraffic 100%",
            "PrimaryTaskSet"
        ]
    );
    let held = events[5]["started_at"].as_i64().unwrap() - events[4]["ended_at"].as_i64().unwrap();
    assert!(held >= 6000, "the canary held {held} ms, not the interval");
    assert_eq!(events[4]["instance"], "green");
    // The hook knew where the new task set is.
    let hooked = std::fs::read_to_string(&hook_file).unwrap();
    assert_eq!(
        hooked.trim(),
        format!("before {} {v1_set} {}", lb.green, revision(2))
    );
    let serving = &first["serving"];
    assert!(serving["error"].is_null(), "{serving:#?}");
    // Moto counts no running task for an EXTERNAL service.
    assert_eq!(
        serving["summary"], "orders: taskdef orders:2, 0/2 running",
        "{serving:#?}"
    );
    assert_eq!(
        serving["traffic"],
        serde_json::json!([
            {"name": "orders:1 (blue)", "percent": 0.0},
            {"name": "orders:2 (green)", "percent": 100.0}
        ])
    );
    assert!(
        facts(serving)["task sets"].contains("orders:2 PRIMARY (green"),
        "{serving:#?}"
    );

    // v2 goes to blue: the idle revision-1 set there makes room first.
    assert!(p.release("v2", &[("version", "v2")]));
    assert_eq!(weights(&p.aws, &lb.listener), split(&lb, 100, 0));
    let sets = task_sets(&p.aws);
    assert_eq!(sets.len(), 2, "{sets:#?}");
    let v2_set = set_in(&sets, &lb.blue).unwrap();
    assert_eq!(v2_set["taskDefinition"], revision(3).as_str());
    assert_eq!(v2_set["status"], "PRIMARY");
    assert_eq!(arn_of(set_in(&sets, &lb.green).unwrap()), v1_set);
    let second = p.history("orders")[0].clone();
    assert_eq!(second["status"], "Succeeded", "{second:#?}");

    // Inside termination-wait, the rollback to v1 is one weight change:
    // its task set takes all traffic and is primary again.
    let rollback = roll_back(&p);
    assert_eq!(rollback["status"], "Succeeded", "{rollback:#?}");
    assert_eq!(rollback["initiator"], "user");
    assert_eq!(rollback["rollback_of"], second["id"]);
    assert_eq!(rollback["record"]["task_set"], v1_set.as_str());
    assert_eq!(rollback["record"]["task_definition"], revision(2).as_str());
    let names: Vec<&str> = rollback["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["AllowTraffic 100%", "PrimaryTaskSet"]);
    assert_eq!(weights(&p.aws, &lb.listener), split(&lb, 0, 100));
    let sets = task_sets(&p.aws);
    assert_eq!(sets.len(), 2, "no task set was started for it: {sets:#?}");
    let green = set_in(&sets, &lb.green).unwrap();
    assert_eq!(arn_of(green), v1_set);
    assert_eq!(green["status"], "PRIMARY");
    assert_eq!(service(&p.aws)["taskDefinition"], revision(2).as_str());
}

#[test]
fn after_termination_wait_the_old_set_is_gone_and_a_rollback_starts_one_from_the_task_definition() {
    let aws = Aws::start();
    cluster(&aws);
    let lb = task_set_service(&aws);
    let p = project(
        aws,
        &behind(&lb, "blue-green", "1s"),
        &WITH_IMAGE_DETAIL,
        "<IMAGE>",
        &[("hook.sh", "true\n")],
    );
    let only = |p: &Project, what: &str, group: &str| {
        p.world().wait_until(what, || {
            let sets = task_sets(&p.aws);
            sets.len() == 1 && set_in(&sets, group).is_some()
        })
    };
    assert!(p.release("v1", &[("version", "v1")]));
    assert_eq!(weights(&p.aws, &lb.listener), split(&lb, 0, 100));
    only(
        &p,
        "the blue set to be deleted after termination-wait",
        &lb.green,
    );
    let v1_set = arn_of(&task_sets(&p.aws)[0]);
    assert!(p.release("v2", &[("version", "v2")]));
    assert_eq!(weights(&p.aws, &lb.listener), split(&lb, 100, 0));
    only(
        &p,
        "v1's green set to be deleted after termination-wait",
        &lb.blue,
    );
    let second = p.history("orders")[0].clone();
    assert_eq!(second["status"], "Succeeded", "{second:#?}");

    // v1's set is gone: the rollback starts one from v1's task definition
    // (by ARN; nothing is registered) in green and moves all traffic to it.
    let rollback = roll_back(&p);
    assert_eq!(rollback["status"], "Succeeded", "{rollback:#?}");
    assert_eq!(rollback["rollback_of"], second["id"]);
    let names: Vec<&str> = rollback["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "CreateTaskSet",
            "Steady",
            "AllowTraffic 100%",
            "PrimaryTaskSet"
        ]
    );
    assert_eq!(weights(&p.aws, &lb.listener), split(&lb, 0, 100));
    let sets = task_sets(&p.aws);
    let green = set_in(&sets, &lb.green).unwrap();
    assert_ne!(arn_of(green), v1_set);
    assert_eq!(green["taskDefinition"], revision(2).as_str());
    assert_eq!(green["status"], "PRIMARY");
    assert_eq!(rollback["record"]["task_set"], arn_of(green).as_str());
    assert_eq!(rollback["record"]["task_definition"], revision(2).as_str());
    let revisions = p.aws.cli(
        "ecs",
        &["list-task-definitions", "--family-prefix", "orders"],
    );
    assert_eq!(revisions["taskDefinitionArns"].as_array().unwrap().len(), 3);
}

#[test]
fn an_alarm_or_a_stop_during_the_canary_puts_the_traffic_back_and_deletes_the_new_set() {
    let aws = Aws::start();
    cluster(&aws);
    let lb = task_set_service(&aws);
    let flag = aws.world.dir.path().join("alarm");
    let extra = format!(
        "{}    alarms:\n      - command: \"test ! -e {}\"\n",
        behind(&lb, "{type: canary, percent: 10, interval: 30s}", "10m"),
        flag.display()
    );
    let p = project(
        aws,
        &extra,
        &WITH_IMAGE_DETAIL,
        "<IMAGE>",
        &[("hook.sh", "true\n")],
    );
    let mut run = p.start_run("v1", &[("version", "v1")]);
    p.world().wait_until("the canary step", || {
        assert!(
            run.try_wait().unwrap().is_none(),
            "the run ended before the canary step"
        );
        weights(&p.aws, &lb.listener).get(&lb.green) == Some(&10)
    });
    std::fs::write(&flag, "").unwrap();
    let out = finish(run);
    assert!(
        !out.status.success(),
        "the alarm fails the run: {}",
        text(&out)
    );

    assert_eq!(weights(&p.aws, &lb.listener), split(&lb, 100, 0));
    let sets = task_sets(&p.aws);
    assert_eq!(sets.len(), 1, "the new set is deleted: {sets:#?}");
    assert_eq!(sets[0]["taskDefinition"], revision(1).as_str());
    assert_eq!(sets[0]["status"], "PRIMARY");
    let d = p.history("orders")[0].clone();
    assert_eq!(
        d["status"], "Failed",
        "nothing earlier to roll back to: {d:#?}"
    );
    let detail = p.deployment(&id_of(&d));
    let error = detail["error"].as_str().unwrap();
    assert!(error.contains("test ! -e"), "{error}");
    assert!(!error.contains(LONG_TERM_SECRET), "{error}");

    // A stop during the hold (`stop --abandon`) puts it back the same way.
    std::fs::remove_file(&flag).unwrap();
    let mut run = p.start_run("v2", &[("version", "v2")]);
    p.world().wait_until("the second canary step", || {
        assert!(
            run.try_wait().unwrap().is_none(),
            "the run ended before the canary step"
        );
        weights(&p.aws, &lb.listener).get(&lb.green) == Some(&10)
    });
    let execution = p.world().latest_execution().unwrap();
    let out = p.world().run(&["stop", &execution, "--abandon"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = finish(run);
    assert!(
        !out.status.success(),
        "the stop ends the run: {}",
        text(&out)
    );
    assert_eq!(weights(&p.aws, &lb.listener), split(&lb, 100, 0));
    let sets = task_sets(&p.aws);
    assert_eq!(sets.len(), 1, "the new set is deleted: {sets:#?}");
    assert_eq!(sets[0]["taskDefinition"], revision(1).as_str());
    assert_eq!(p.history("orders")[0]["status"], "Stopped");
}

#[test]
fn aws_errors_reach_the_deployment_in_words() {
    let aws = Aws::start();
    let p = project(
        aws,
        "    strategy: all-at-once\n",
        &WITH_IMAGE_DEFINITIONS,
        "registry.example.com/orders:latest",
        &[],
    );
    let error_of_last = |p: &Project| {
        let d = p.history("orders")[0].clone();
        assert_eq!(d["status"], "Failed", "{d:#?}");
        p.deployment(&id_of(&d))["error"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // No cluster: AWS's error code and message, naming the call.
    assert!(!p.release("v1", &[("version", "v1")]));
    let error = error_of_last(&p);
    assert!(
        error.starts_with("DescribeServices failed: ClusterNotFoundException: "),
        "{error}"
    );
    assert!(!error.contains(LONG_TERM_SECRET), "{error}");

    // A cluster without the service.
    cluster(&p.aws);
    assert!(!p.release("v2", &[("version", "v2")]));
    assert_eq!(
        error_of_last(&p),
        "DescribeServices failed: MISSING: no service `orders` in cluster `main`"
    );

    // The service on the EXTERNAL controller: a rolling strategy is
    // refused before anything is registered.
    p.aws.cli(
        "ecs",
        &[
            "create-service",
            "--cluster",
            CLUSTER,
            "--service-name",
            SERVICE,
            "--desired-count",
            "1",
            "--deployment-controller",
            "type=EXTERNAL",
        ],
    );
    assert!(!p.release("v3", &[("version", "v3")]));
    let error = error_of_last(&p);
    assert!(
        error.starts_with("service `orders` has the EXTERNAL deployment controller"),
        "{error}"
    );
    let revisions = p.aws.cli(
        "ecs",
        &["list-task-definitions", "--family-prefix", "orders"],
    );
    assert_eq!(revisions["taskDefinitionArns"].as_array().unwrap().len(), 1);
}
