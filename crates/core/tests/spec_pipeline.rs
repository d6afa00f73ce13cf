//! Pipeline files as a user writes them: a full example using every part of
//! the format validates clean, and every cross-check failure is
//! reported where it happens.

use slipway_core::spec::pipeline::{
    self, ActionType, Alarm, BuildspecSource, ExecutionMode, HealthCheck, MinimumHealthy, Percent,
    Provider, StageFailure, Strategy, Trigger, CODEDEPLOY_NAMES, STRATEGY_NAMES,
};

/// A pipeline file using every part of the format.
const EXAMPLE: &str = r##"version: 1
name: web                          # optional; default: the file stem
execution-mode: superseded         # superseded (default) | queued | parallel

triggers:                          # none at all = manual only
  - push:
      branches: [main, "release/*"]              # globs; `!pattern` excludes
      paths:                                     # optional changed-path filter
        include: ["src/**", "buildspec.yml"]
        exclude: ["docs/**"]
  - tag: ["v*"]
  - schedule: "0 3 * * *"                        # cron, local time

variables:                         # pipeline variables: #{variables.NAME}
  APP: web

environments:
  staging:
    provider: local                # the embedded default: local instances behind a router
    instances: 2
    account: staging               # a credential profile (for cloudwatch: alarms here)
    region: eu-west-1              # optional; default: the profile's region
    listen: 127.0.0.1:18080        # where the environment's router accepts traffic
    run: "./bin/server"            # the service; started in each instance dir with PORT set
    health:
      http: /healthz               # GET on each instance; or  command: "./check.sh"
      expect-status: 200
      interval: 1s
      timeout: 2s
      healthy-threshold: 2
      unhealthy-threshold: 3
    strategy: blue-green
    termination-wait: 5m           # the old set stays up this long; a rollback inside it is a switch
    bake: 30s                      # watch health and alarms this long after traffic moved
    alarms:
      - error-rate: { above: 5%, window: 30s }   # measured by the router
      - command: "./alarm.sh"                    # exit non-zero = in alarm
      - cloudwatch: orders-api-errors            # state ALARM = in alarm; needs `account`
    auto-rollback: [failure, health, alarm]      # default: all three

  prod:
    provider: command              # the user's own deploy tooling
    account: prod                  # a credential profile; its STS session is injected as AWS_*
    region: eu-west-1
    deploy: ["./deploy.sh #{Build.VERSION}"]
    verify: ["./smoke-test.sh"]
    rollback: ["./deploy.sh #{rollback.VERSION}"]

stages:
  - name: Build
    actions:
      - name: compile
        type: build                # runs a buildspec
        buildspec: buildspec.yml   # a path in the source, or an inline mapping
        namespace: Build           # its exported-variables become #{Build.NAME}
        outputs: [app]             # the buildspec's primary artifact is named app
        timeout: 30m

  - name: Test
    actions:                       # same run-order = in parallel
      - { name: unit, type: test, buildspec: buildspec-test.yml, inputs: [app], run-order: 1 }
      - { name: lint, type: build, buildspec: buildspec-lint.yml, run-order: 1 }

  - name: Staging
    actions:
      - { name: deploy, type: deploy, environment: staging, inputs: [app] }

  - name: Approve
    actions:
      - name: release-manager
        type: approval
        timeout: 24h
        message: "Promote #{Build.VERSION} to prod?"

  - name: Production
    on-failure: rollback           # fail (default) | rollback: undo this stage's deployments
    actions:
      - name: deploy
        type: deploy
        environment: prod
        inputs: [app]
        strategy: { type: canary, percent: 10, interval: 5m }
"##;

fn errors(text: &str) -> Vec<String> {
    match pipeline::parse(text, ".slipway/web.yml") {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
    }
}

fn one_error(text: &str, want: &str) -> slipway_core::spec::SpecError {
    let errors =
        pipeline::parse(text, ".slipway/web.yml").expect_err("the pipeline should be refused");
    errors
        .iter()
        .find(|e| e.message.contains(want))
        .unwrap_or_else(|| panic!("no error containing `{want}` in {errors:#?}"))
        .clone()
}

#[test]
fn the_documented_example_pipeline_validates_into_typed_values() {
    let p = pipeline::parse(EXAMPLE, ".slipway/web.yml").unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(p.name, "web");
    assert_eq!(p.execution_mode, ExecutionMode::Superseded);
    assert_eq!(p.triggers.len(), 3);
    assert!(
        matches!(&p.triggers[0], Trigger::Push { branches, paths_exclude, .. }
        if branches == &["main", "release/*"] && paths_exclude == &["docs/**"])
    );
    assert!(matches!(&p.triggers[2], Trigger::Schedule(c) if c.0 == "0 3 * * *"));
    let staging = p.environment("staging").unwrap();
    assert!(matches!(
        staging.provider,
        Provider::Local { instances: 2, .. }
    ));
    assert_eq!(staging.termination_wait.unwrap().seconds, 300);
    assert_eq!(staging.bake.unwrap().seconds, 30);
    assert_eq!(staging.strategy, Some(Strategy::BlueGreen));
    assert!(
        matches!(&staging.health.as_ref().unwrap().check, HealthCheck::Http { path, expect_status: 200 } if path == "/healthz")
    );
    assert!(
        matches!(staging.alarms[0], Alarm::ErrorRate { above: Percent(a), window } if a == 5.0 && window.seconds == 30)
    );
    assert_eq!(
        staging.alarms[2],
        Alarm::CloudWatch("orders-api-errors".into())
    );
    assert_eq!(staging.account.as_deref(), Some("staging"));
    assert!(matches!(
        p.environment("prod").unwrap().provider,
        Provider::Command { .. }
    ));
    assert_eq!(p.stages.len(), 5);
    assert_eq!(p.stages[4].on_failure, StageFailure::Rollback);
    let compile = &p.stages[0].actions[0];
    assert_eq!(compile.r#type, ActionType::Build);
    assert_eq!(
        compile.buildspec,
        Some(BuildspecSource::Path("buildspec.yml".into()))
    );
    assert_eq!(compile.timeout.unwrap().seconds, 1800);
    assert_eq!(p.stages[3].actions[0].timeout.unwrap().seconds, 86_400);
    let prod = &p.stages[4].actions[0];
    assert!(
        matches!(prod.strategy, Some(Strategy::Canary { percent: Percent(pc), interval }) if pc == 10.0 && interval.seconds == 300)
    );
}

#[test]
fn the_name_defaults_to_the_file_stem() {
    let text =
        "version: 1\nstages:\n  - name: Build\n    actions:\n      - {name: b, type: build}\n";
    assert_eq!(
        pipeline::parse(text, "repo/.slipway/api.yml").unwrap().name,
        "api"
    );
}

#[test]
fn every_strategy_name_reads_into_a_typed_strategy() {
    for name in STRATEGY_NAMES.iter().map(|s| s.to_string()).chain(
        CODEDEPLOY_NAMES
            .iter()
            .map(|s| format!("CodeDeployDefault.{s}")),
    ) {
        Strategy::from_name(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert_eq!(
        Strategy::from_name("CodeDeployDefault.HalfAtATime").unwrap(),
        Strategy::from_name("half-at-a-time").unwrap()
    );
    assert_eq!(
        Strategy::from_name("CodeDeployDefault.OneAtATime").unwrap(),
        Strategy::Rolling {
            minimum_healthy: MinimumHealthy::AllButOne
        }
    );
    assert!(
        matches!(Strategy::from_name("CodeDeployDefault.LambdaLinear10PercentEvery3Minutes").unwrap(),
        Strategy::Linear { percent: Percent(p), interval } if p == 10.0 && interval.seconds == 180)
    );
    assert!(
        matches!(Strategy::from_name("CodeDeployDefault.ECSCanary10Percent15Minutes").unwrap(),
        Strategy::Canary { percent: Percent(p), interval } if p == 10.0 && interval.seconds == 900)
    );
    assert_eq!(
        Strategy::from_name("CodeDeployDefault.ECSAllAtOnce").unwrap(),
        Strategy::BlueGreen
    );
    let e = Strategy::from_name("CodeDeployDefault.LambdaCanary10Percent7Minutes").unwrap_err();
    assert!(e.contains("did you mean"), "{e}");
    assert!(Strategy::from_name("blue-gren")
        .unwrap_err()
        .contains("did you mean `blue-green`?"));
}

const ENVS: &str = "version: 1
environments:
  staging:
    run: ./server
";

#[test]
fn strategy_mappings_are_typed() {
    let text = format!(
        "{ENVS}stages:
  - name: Deploy
    actions:
      - name: roll
        type: deploy
        environment: staging
        strategy: {{type: rolling, minimum-healthy: 2}}
      - name: lin
        type: deploy
        environment: staging
        run-order: 2
        strategy: {{type: linear, percent: 20%, interval: 2m}}
"
    );
    let p = pipeline::parse(&text, "p.yml").unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(
        p.stages[0].actions[0].strategy,
        Some(Strategy::Rolling {
            minimum_healthy: MinimumHealthy::Count(2)
        })
    );
    assert!(
        matches!(p.stages[0].actions[1].strategy, Some(Strategy::Linear { percent: Percent(p), interval }) if p == 20.0 && interval.seconds == 120)
    );
}

#[test]
fn an_input_nobody_produced_earlier_is_an_error() {
    let text = format!(
        "{ENVS}stages:
  - name: Build
    actions:
      - {{name: compile, type: build, outputs: [app]}}
      - {{name: package, type: build, inputs: [bundle], run-order: 2}}
      - {{name: early, type: build, inputs: [app]}}
"
    );
    let e = one_error(
        &text,
        "input `bundle` is not an output of any earlier action",
    );
    assert_eq!(
        (e.line, e.path.as_str()),
        (9, "stages[0].actions[1].inputs")
    );
    let e = one_error(
        &text,
        "input `app` is an output of `compile`, which does not run before this action",
    );
    assert_eq!(e.line, 10);
}

#[test]
fn a_reference_to_a_later_or_unknown_namespace_is_an_error() {
    let text = format!("{ENVS}variables:
  APP: web
stages:
  - name: Approve
    actions:
      - name: ok
        type: approval
        message: \"Ship #{{Build.VERSION}} of #{{variables.APP}} at #{{Source.COMMIT_ID}}? #{{variables.APPP}}\"
  - name: Build
    actions:
      - {{name: compile, type: build, namespace: Build}}
");
    let e = one_error(
        &text,
        "`#{Build.VERSION}` names no namespace defined by an earlier action",
    );
    assert_eq!((e.line, e.column), (12, 24));
    let e = one_error(
        &text,
        "`#{variables.APPP}` names no pipeline variable; did you mean `APP`?",
    );
    assert_eq!(e.path, "stages[0].actions[0].message");
    assert_eq!(errors(&text).len(), 2, "{:#?}", errors(&text));
}

#[test]
fn an_inline_buildspec_must_export_what_is_referenced() {
    let text = format!(
        "{ENVS}stages:
  - name: Build
    actions:
      - name: compile
        type: build
        namespace: Build
        buildspec:
          version: 0.2
          env:
            exported-variables: [VERSION]
          phases:
            build:
              commands: [\"export VERSION=1\"]
  - name: Ship
    actions:
      - {{name: say, type: command, commands: [\"echo #{{Build.VERSION}} #{{Build.TAG}}\"]}}
"
    );
    let e = one_error(&text, "does not export `TAG`");
    assert_eq!(e.line, 20);
    assert_eq!(errors(&text).len(), 1, "{:#?}", errors(&text));
}

#[test]
fn deploy_actions_must_name_a_defined_environment_and_names_are_unique() {
    let text = format!(
        "{ENVS}stages:
  - name: Deploy
    actions:
      - {{name: deploy, type: deploy, environment: stagin}}
      - {{name: deploy, type: approval}}
"
    );
    let e = one_error(
        &text,
        "environment `stagin` is not defined under `environments:`; did you mean `staging`?",
    );
    assert_eq!(e.line, 8);
    one_error(
        &text,
        "action name `deploy` is used twice in stage `Deploy`",
    );
}

#[test]
fn durations_percentages_and_cron_are_checked_where_written() {
    let text = "version: 1
triggers:
  - schedule: \"0 25 * * *\"
environments:
  staging:
    run: ./server
    bake: 30
    alarms:
      - error-rate: { above: 5, window: 30s }
stages:
  - name: Build
    actions:
      - {name: b, type: build, timeout: 1 hour}
";
    let all = pipeline::parse(text, "p.yml").unwrap_err();
    let find = |want: &str| {
        all.iter()
            .find(|e| e.message.contains(want))
            .unwrap_or_else(|| panic!("{want}: {all:#?}"))
    };
    assert_eq!(find("hour 25 is out of range").line, 3);
    assert_eq!(find("`30` has no unit").line, 7);
    assert_eq!(find("`5` is not a percentage").line, 9);
    assert_eq!(find("`1 hour` is not a duration").line, 13);
    assert_eq!(all.len(), 4, "{all:#?}");
}

#[test]
fn a_misspelt_key_gets_a_suggestion() {
    let text = "version: 1\nstages:\n  - name: Build\n    actions:\n      - {name: b, type: build, run_order: 2}\n";
    let e = one_error(
        text,
        "unknown key `run_order` in a build action; did you mean `run-order`?",
    );
    assert_eq!(
        (e.line, e.path.as_str()),
        (5, "stages[0].actions[0].run_order")
    );
}

#[test]
fn the_execution_id_is_a_builtin_variable_and_a_misspelt_one_is_named() {
    let ok = "version: 1\nstages:\n  - name: S\n    actions:\n      - { name: a, type: command, commands: ['echo #{codepipeline.PipelineExecutionId}'] }\n";
    assert_eq!(errors(ok), Vec::<String>::new());
    let bad = ok.replace("PipelineExecutionId", "ExecutionId");
    one_error(
        &bad,
        "is not an execution variable; it offers PipelineExecutionId",
    );
}

#[test]
fn a_cloudwatch_alarm_needs_the_environments_account() {
    let text = "version: 1
environments:
  staging:
    run: ./server
    alarms:
      - command: ./ok.sh
      - cloudwatch: orders-api-errors
stages:
  - name: Deploy
    actions:
      - {name: d, type: deploy, environment: staging}
";
    let e = one_error(text, "`cloudwatch: orders-api-errors` alarm needs");
    assert_eq!(
        (e.line, e.column, e.path.as_str()),
        (7, 21, "environments.staging.alarms[1].cloudwatch")
    );
    assert!(e.message.contains("`account:`"), "{}", e.message);
    assert_eq!(errors(text).len(), 1, "{:#?}", errors(text));

    let with_account = text.replace(
        "    run: ./server\n",
        "    run: ./server\n    account: prod\n",
    );
    let p = pipeline::parse(&with_account, "p.yml").unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(
        p.environment("staging").unwrap().alarms[1],
        Alarm::CloudWatch("orders-api-errors".into())
    );
}

#[test]
fn a_cloudwatch_alarm_is_a_name_and_one_kind_of_alarm() {
    let text = "version: 1
environments:
  staging:
    run: ./server
    account: prod
    alarms:
      - cloudwatch: [a, b]
      - cloudwatch: \"\"
      - { cloudwatch: x, command: ./alarm.sh }
      - cloudwach: y
stages:
  - name: Deploy
    actions:
      - {name: d, type: deploy, environment: staging}
";
    let all = pipeline::parse(text, "p.yml").unwrap_err();
    let find = |want: &str| {
        all.iter()
            .find(|e| e.message.contains(want))
            .unwrap_or_else(|| panic!("{want}: {all:#?}"))
    };
    assert_eq!(find("expected a CloudWatch alarm name").line, 7);
    assert_eq!(find("a CloudWatch alarm name is 1-255 characters").line, 8);
    assert_eq!(find("this one has `command:` and `cloudwatch:`").line, 9);
    assert_eq!(find("did you mean `cloudwatch`?").line, 10);
    assert_eq!(all.len(), 4, "{all:#?}");
}

#[test]
fn an_environment_names_at_most_a_hundred_cloudwatch_alarms() {
    let mut text = String::from("version: 1\nenvironments:\n  staging:\n    run: ./server\n    account: prod\n    alarms:\n");
    for i in 0..=pipeline::MAX_CLOUDWATCH_ALARMS {
        text.push_str(&format!("      - cloudwatch: alarm-{i}\n"));
    }
    let e = one_error(&text, "at most 100 CloudWatch alarms");
    assert_eq!(e.path, "environments.staging.alarms[100].cloudwatch");
}

/// A pipeline whose one environment, `target`, is `environment`.
fn with_environment(environment: &str) -> String {
    format!(
        "version: 1
environments:
  target:
{environment}
stages:
  - name: Deploy
    actions:
      - {{name: d, type: deploy, environment: target}}
"
    )
}

#[test]
fn the_aws_providers_read_into_typed_environments() {
    use slipway_core::spec::pipeline::{Provider, TrafficHooks};
    let lambda = with_environment(
        "    provider: lambda
    account: prod
    region: eu-west-1
    function: orders-api
    package: function.zip
    strategy: CodeDeployDefault.LambdaCanary10Percent5Minutes
    hooks:
      before-allow-traffic: [\"./smoke.sh #{deploy.VERSION}\"]
      after-allow-traffic: ./check.sh
    alarms:
      - cloudwatch: orders-api-errors",
    );
    let p = pipeline::parse(&lambda, "p.yml").unwrap_or_else(|e| panic!("{e:#?}"));
    let env = p.environment("target").unwrap();
    assert_eq!(
        env.provider,
        Provider::Lambda {
            function: "orders-api".into(),
            alias: "live".into(),
            package: Some("function.zip".into()),
            hooks: TrafficHooks {
                before_allow_traffic: vec!["./smoke.sh #{deploy.VERSION}".into()],
                after_allow_traffic: vec!["./check.sh".into()],
            },
        }
    );
    assert_eq!(env.region.as_deref(), Some("eu-west-1"));

    let s3 = with_environment(
        "    provider: s3
    account: prod
    bucket: www.example.com
    delete: true
    cache-control: { \"*.html\": \"no-cache\", \"assets/**\": \"max-age=31536000, immutable\" }
    invalidate: E2EXAMPLE",
    );
    let p = pipeline::parse(&s3, "p.yml").unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(
        p.environment("target").unwrap().provider,
        Provider::S3 {
            bucket: "www.example.com".into(),
            prefix: String::new(),
            delete: true,
            cache_control: vec![
                ("*.html".into(), "no-cache".into()),
                ("assets/**".into(), "max-age=31536000, immutable".into())
            ],
            invalidate: Some("E2EXAMPLE".into()),
        }
    );

    let cfn = with_environment(
        "    provider: cloudformation
    account: prod
    stack: orders-infra
    template: template.yml
    parameters: { Env: prod, Version: \"#{Build.VERSION}\" }
    capabilities: [CAPABILITY_IAM]",
    );
    // `#{Build.VERSION}` names a namespace no action here exports.
    let e = one_error(&cfn, "Build");
    assert!(
        e.path.contains("parameters") || e.message.contains("Build"),
        "{e:?}"
    );
    let cfn = cfn.replace("#{Build.VERSION}", "v1");
    let p = pipeline::parse(&cfn, "p.yml").unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(
        p.environment("target").unwrap().provider,
        Provider::CloudFormation {
            stack: "orders-infra".into(),
            template: "template.yml".into(),
            parameters: vec![
                ("Env".into(), "prod".into()),
                ("Version".into(), "v1".into())
            ],
            capabilities: vec!["CAPABILITY_IAM".into()],
        }
    );

    let ecs = with_environment(
        "    provider: ecs
    account: prod
    cluster: main
    service: orders
    strategy: canary
    listener: arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/a/b/c
    target-groups: [arn:blue, arn:green]",
    );
    let p = pipeline::parse(&ecs, "p.yml").unwrap_or_else(|e| panic!("{e:#?}"));
    let Provider::Ecs {
        task_definition,
        target_groups,
        ..
    } = &p.environment("target").unwrap().provider
    else {
        panic!("an ecs environment");
    };
    assert_eq!(task_definition, "taskdef.json");
    assert_eq!(target_groups.len(), 2);
}

#[test]
fn an_aws_environment_says_what_it_is_missing() {
    let e = one_error(
        &with_environment("    provider: lambda\n    function: f"),
        "needs `account:`",
    );
    assert_eq!(e.path, "environments.target");
    let e = one_error(
        &with_environment("    provider: s3\n    account: prod"),
        "needs `bucket:`",
    );
    assert!(e.message.contains("`s3` environment"), "{}", e.message);
    one_error(
        &with_environment(
            "    provider: cloudformation\n    account: prod\n    stack: s\n    template: t.yml\n    capabilities: [CAPABILITY_ROOT]",
        ),
        "`CAPABILITY_ROOT` is not a CloudFormation capability",
    );
    one_error(
        &with_environment(
            "    provider: ecs\n    account: prod\n    cluster: c\n    service: s\n    target-groups: [a, b]",
        ),
        "`listener` and `target-groups` go together",
    );
    let e = one_error(
        &with_environment(
            "    provider: ecs\n    account: prod\n    cluster: c\n    service: s\n    strategy: CodeDeployDefault.ECSCanary10Percent5Minutes",
        ),
        "name its `listener`",
    );
    assert_eq!(e.path, "environments.target.strategy");
    let rolling = with_environment(
        "    provider: ecs\n    account: prod\n    cluster: c\n    service: s\n    strategy: rolling",
    );
    assert_eq!(errors(&rolling), Vec::<String>::new());
    let e = one_error(
        &with_environment(
            "    provider: lambda\n    account: prod\n    function: f\n    alarms:\n      - error-rate: { above: 5% }",
        ),
        "use a `cloudwatch:` alarm",
    );
    assert_eq!(e.path, "environments.target.alarms");
    // Keys of another provider are named as unknown, with the provider.
    one_error(
        &with_environment(
            "    provider: lambda\n    account: prod\n    function: f\n    bucket: b",
        ),
        "bucket",
    );
    one_error(&with_environment("    provider: kubernetes"), "kubernetes");
}
