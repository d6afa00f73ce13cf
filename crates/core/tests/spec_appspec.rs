//! Appspecs for the three compute platforms, YAML and JSON, and the
//! lifecycle order the deployer follows.

use slipway_core::spec::appspec::{
    self, hook_events, lifecycle, Appspec, ComputePlatform, DeploymentType, FileExistsBehavior,
    InstanceSet, Os,
};

fn refuse(text: &str, name: &str) -> Vec<slipway_core::spec::SpecError> {
    appspec::parse(text, name).expect_err("should be refused")
}

#[test]
fn a_server_appspec_reads_files_permissions_and_hooks() {
    let a = appspec::parse(
        "version: 0.0
os: linux
files:
  - source: /
    destination: /srv/app
file_exists_behavior: OVERWRITE
permissions:
  - object: /srv/app
    pattern: \"**\"
    except: [tmp]
    owner: app
    group: app
    mode: 755
    type: [file]
hooks:
  ApplicationStop:
    - location: scripts/stop.sh
      timeout: 60
  AfterInstall:
    - location: scripts/migrate.sh
      runas: app
",
        "appspec.yml",
    )
    .unwrap_or_else(|e| panic!("{e:#?}"));
    let Appspec::Server {
        os,
        files,
        permissions,
        file_exists_behavior,
        hooks,
    } = a
    else {
        panic!("{a:?}")
    };
    assert_eq!(os, Os::Linux);
    assert_eq!(files[0].destination, "/srv/app");
    assert_eq!(file_exists_behavior, FileExistsBehavior::Overwrite);
    assert_eq!(permissions[0].mode.as_deref(), Some("755"));
    assert_eq!(hooks[0].0, "ApplicationStop");
    assert_eq!(hooks[0].1[0].timeout, 60);
    assert_eq!(hooks[1].1[0].timeout, 3600, "the default timeout");
    assert_eq!(hooks[1].1[0].runas.as_deref(), Some("app"));
}

#[test]
fn ecs_json_and_lambda_yaml_appspecs_read_their_resources_and_hooks() {
    let ecs = appspec::parse(
        r#"{
  "version": 0.0,
  "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
      "TaskDefinition": "arn:aws:ecs:eu-west-1:1:task-definition/web:3",
      "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
      "PlatformVersion": "LATEST",
      "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["s-1"], "SecurityGroups": ["sg-1"], "AssignPublicIp": "DISABLED"}},
      "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE_SPOT", "Base": 1, "Weight": 2}]}}}],
  "Hooks": [{"AfterAllowTestTraffic": "smoke-test"}]
}"#,
        "appspec.json",
    )
    .unwrap_or_else(|e| panic!("{e:#?}"));
    let Appspec::Ecs { service, hooks } = ecs else {
        panic!()
    };
    assert_eq!(
        (service.container_name.as_str(), service.container_port),
        ("web", 8080)
    );
    assert_eq!(service.network.unwrap().subnets, ["s-1"]);
    assert_eq!(service.capacity_providers[0].weight, Some(2));
    assert_eq!(hooks[0].function, "smoke-test");

    let lambda = appspec::parse(
        "version: 0.0
Resources:
  - fn:
      Type: AWS::Lambda::Function
      Properties: {Name: api, Alias: live, CurrentVersion: 1, TargetVersion: 2}
Hooks:
  - BeforeAllowTraffic: check
",
        "appspec.yaml",
    )
    .unwrap_or_else(|e| panic!("{e:#?}"));
    let Appspec::Lambda { function, .. } = lambda else {
        panic!()
    };
    assert_eq!(
        (function.alias.as_str(), function.target_version.as_str()),
        ("live", "2")
    );
}

#[test]
fn hook_names_are_validated_against_the_platform() {
    let errors = refuse(
        "version: 0.0
Resources:
  - fn:
      Type: AWS::Lambda::Function
      Properties: {Name: api, Alias: live, TargetVersion: 2}
Hooks:
  - BeforeInstall: check
  - AfterAllowTrafic: check
",
        "appspec.yml",
    );
    assert!(
        errors[0]
            .message
            .contains("`BeforeInstall` is not a Lambda lifecycle event"),
        "{errors:#?}"
    );
    assert_eq!((errors[1].line, errors[1].column), (8, 5));
    assert!(errors[1]
        .message
        .contains("did you mean `AfterAllowTraffic`?"));

    let errors = refuse("version: 0.0\nos: linux\nhooks:\n  Install:\n    - location: a.sh\n  BeforeInstal:\n    - location: b.sh\n", "appspec.yml");
    assert!(errors[0].message.contains("runs no scripts"));
    assert!(errors[1].message.contains("did you mean `BeforeInstall`?"));
}

#[test]
fn the_agent_only_accepts_version_zero_written_as_a_number() {
    let e = refuse("version: \"0.0\"\nos: linux\n", "appspec.yml");
    assert!(
        e[0].message.contains("write `version: 0.0` without quotes"),
        "{e:#?}"
    );
    let e = refuse("version: 1.0\nos: linux\n", "appspec.yml");
    assert!(e[0]
        .message
        .contains("the only version CodeDeploy accepts is 0.0"));
    assert!(appspec::parse("version: 0\nos: windows\n", "appspec.yml").is_ok());
}

#[test]
fn permissions_on_windows_and_bad_modes_are_refused() {
    let e = refuse(
        "version: 0.0\nos: windows\npermissions:\n  - object: C:\\app\n    mode: 789\n",
        "appspec.yml",
    );
    assert!(
        e.iter().any(|e| e.message.contains("only on Linux")),
        "{e:#?}"
    );
    assert!(e
        .iter()
        .any(|e| e.line == 5 && e.message.contains("not an octal permission mode")));
}

#[test]
fn lifecycle_orders_match_codedeploy() {
    let names = |p, k| lifecycle(p, k).iter().map(|e| e.name).collect::<Vec<_>>();
    assert_eq!(
        names(ComputePlatform::Server, DeploymentType::InPlace),
        [
            "BeforeBlockTraffic",
            "BlockTraffic",
            "AfterBlockTraffic",
            "ApplicationStop",
            "DownloadBundle",
            "BeforeInstall",
            "Install",
            "AfterInstall",
            "ApplicationStart",
            "ValidateService",
            "BeforeAllowTraffic",
            "AllowTraffic",
            "AfterAllowTraffic"
        ]
    );
    let bg = lifecycle(ComputePlatform::Server, DeploymentType::BlueGreen);
    assert!(bg
        .iter()
        .filter(|e| e.set == InstanceSet::Original)
        .all(|e| e.name.contains("BlockTraffic")));
    assert!(
        bg.iter()
            .find(|e| e.name == "ApplicationStop")
            .unwrap()
            .uses_previous_revision
    );
    assert_eq!(
        names(ComputePlatform::Ecs, DeploymentType::BlueGreen),
        [
            "BeforeInstall",
            "Install",
            "AfterInstall",
            "AllowTestTraffic",
            "AfterAllowTestTraffic",
            "BeforeAllowTraffic",
            "AllowTraffic",
            "AfterAllowTraffic"
        ]
    );
    assert_eq!(
        hook_events(ComputePlatform::Lambda),
        ["BeforeAllowTraffic", "AfterAllowTraffic"]
    );
    assert!(!lifecycle(ComputePlatform::Lambda, DeploymentType::BlueGreen)[1].runs_hooks);
}
