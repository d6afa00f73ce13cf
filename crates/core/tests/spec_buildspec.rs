//! Buildspecs as users write them: what they mean once read, and the
//! errors they get when something is wrong, with positions and hints.

use slipway_core::spec::buildspec::{self, OnFailure, PhaseName, Version};

fn parse(text: &str) -> buildspec::Buildspec {
    buildspec::parse(text, "buildspec.yml").unwrap_or_else(|e| panic!("should validate: {e:#?}"))
}

fn refuse(text: &str) -> Vec<slipway_core::spec::SpecError> {
    buildspec::parse(text, "buildspec.yml").expect_err("should be refused")
}

#[test]
fn commands_keep_their_source_text_whatever_yaml_thinks_they_are() {
    let b = parse(
        "version: 0.2
phases:
  build:
    commands:
      - make
      - 1
      - true
      - 3.10
      - \"echo 'quoted: fine'\"
      - |
        set -e
        cargo test
      -
",
    );
    let cmds: Vec<&str> = b
        .phase(PhaseName::Build)
        .unwrap()
        .commands
        .iter()
        .map(|c| c.text.as_str())
        .collect();
    assert_eq!(
        cmds,
        [
            "make",
            "1",
            "true",
            "3.10",
            "echo 'quoted: fine'",
            "set -e\ncargo test\n"
        ]
    );
    assert_eq!(b.phase(PhaseName::Build).unwrap().commands[3].line, 8);
    assert_eq!(b.version, Version::V0_2);
    assert!(b.version.one_shell());
}

#[test]
fn a_single_string_of_commands_is_one_command() {
    let b = parse("version: 0.1\nphases:\n  install:\n    commands: npm ci\n");
    assert_eq!(b.phases[0].commands[0].text, "npm ci");
    assert!(
        !b.version.one_shell(),
        "0.1 runs each command in its own shell"
    );
}

#[test]
fn anchors_aliases_and_merge_keys_work() {
    let b = parse(
        "version: 0.2
phases:
  pre_build:
    commands: &login
      - aws ecr get-login-password
  post_build:
    commands: *login
batch:
  build-list:
    - identifier: amd64
      env: &base
        image: aws/codebuild/standard:7.0
        variables: {ARCH: amd64}
    - identifier: arm64
      env:
        <<: *base
        variables: {ARCH: arm64}
",
    );
    let post = b.phase(PhaseName::PostBuild).unwrap();
    assert_eq!(post.commands[0].text, "aws ecr get-login-password");
    let Some(buildspec::BatchKind::BuildList(builds)) = &b.batch.as_ref().unwrap().kind else {
        panic!()
    };
    assert_eq!(builds[1].env.image, ["aws/codebuild/standard:7.0"]);
    assert_eq!(
        builds[1].env.variables,
        [("ARCH".to_string(), vec!["arm64".to_string()])]
    );
}

#[test]
fn the_whole_grammar_reads_into_typed_values() {
    let b = parse(
        "version: 0.2
run-as: builder
env:
  shell: bash
  variables: {JAVA_HOME: /usr/lib/jvm, EMPTY: }
  parameter-store: {TOKEN: /ci/token}
  secrets-manager:
    DB: arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCd:password:AWSCURRENT
    API: api-key:value
  exported-variables: [VERSION]
  git-credential-helper: yes
proxy: {upload-artifacts: no, logs: yes}
phases:
  install:
    runtime-versions: {nodejs: 18, java: corretto17}
    on-failure: RETRY-3-timeout.*
    commands: [npm ci]
    finally: [echo done]
  build:
    on-failure: CONTINUE
    commands: [npm test]
reports:
  unit:
    files: ['**/*.xml']
    base-directory: reports
    file-format: JunitXml
artifacts:
  files: ['**/*']
  name: app-$(date +%F)
  discard-paths: yes
  base-directory: dist
  exclude-paths: ['**/*.map']
  enable-symlinks: no
  s3-prefix: builds
  secondary-artifacts:
    docs: {files: [docs/**/*]}
cache:
  key: npm-$(md5sum package-lock.json)
  fallback-keys: [npm-]
  action: restore
  paths: [node_modules/**/*]
",
    );
    assert_eq!(b.run_as.as_deref(), Some("builder"));
    assert_eq!(b.env.variables[1], ("EMPTY".to_string(), String::new()));
    let (_, db) = &b.env.secrets_manager[0];
    assert_eq!(
        db.secret_id,
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCd"
    );
    assert_eq!(db.json_key.as_deref(), Some("password"));
    assert_eq!(db.version_stage.as_deref(), Some("AWSCURRENT"));
    assert_eq!(b.env.secrets_manager[1].1.secret_id, "api-key");
    assert!(b.env.git_credential_helper);
    assert_eq!(b.proxy.upload_artifacts, Some(false));
    let install = b.phase(PhaseName::Install).unwrap();
    assert_eq!(
        install.runtime_versions[0],
        ("nodejs".to_string(), "18".to_string())
    );
    assert_eq!(
        install.on_failure,
        OnFailure::Retry {
            count: Some(3),
            pattern: Some("timeout.*".into())
        }
    );
    assert_eq!(
        b.phase(PhaseName::Build).unwrap().on_failure,
        OnFailure::Continue
    );
    assert_eq!(b.reports[0].file_format, "JUNITXML");
    let a = b.artifacts.unwrap();
    assert!(a.discard_paths);
    assert_eq!(a.secondary[0].0, "docs");
    assert_eq!(b.cache.unwrap().action, buildspec::CacheAction::Restore);
}

#[test]
fn on_failure_accepts_every_retry_form() {
    let retry = |count, pattern: Option<&str>| OnFailure::Retry {
        count,
        pattern: pattern.map(String::from),
    };
    assert_eq!(OnFailure::parse("RETRY").unwrap(), retry(None, None));
    assert_eq!(OnFailure::parse("RETRY-5").unwrap(), retry(Some(5), None));
    assert_eq!(
        OnFailure::parse("RETRY-Error.*").unwrap(),
        retry(None, Some("Error.*"))
    );
    assert_eq!(
        OnFailure::parse("RETRY-2-net-.*").unwrap(),
        retry(Some(2), Some("net-.*"))
    );
    assert!(OnFailure::parse("RETRY-101")
        .unwrap_err()
        .contains("0 to 100"));
    assert!(OnFailure::parse("abort").is_err());
}

#[test]
fn a_misspelt_phase_is_located_and_gets_a_suggestion() {
    let errors = refuse(
        "version: 0.2\nphases:\n  build:\n    commands: [make]\n  postbuild:\n    commands: [ls]\n",
    );
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert_eq!(
        (e.line, e.column, e.path.as_str()),
        (5, 3, "phases.postbuild")
    );
    assert!(
        e.message.contains("did you mean `post_build`?"),
        "{}",
        e.message
    );
    assert_eq!(e.to_string(), "buildspec.yml:5:3: unknown phase `postbuild`; did you mean `post_build`? (at phases.postbuild)");
}

#[test]
fn every_error_in_a_file_is_reported_in_file_order() {
    let errors = refuse(
        "version: 0.3
env:
  variabels: {A: b}
phases:
  build:
    on-failure: SOMETIMES
    commands:
      - echo ok
      - echo key: value
artifacts:
  discard-paths: maybe
",
    );
    let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.path.as_str())).collect();
    assert_eq!(
        got,
        [
            (1, "version"),
            (3, "env.variabels"),
            (6, "phases.build.on-failure"),
            (9, "phases.build.commands[1]"),
            (11, "artifacts"),
            (11, "artifacts.discard-paths"),
        ],
        "{errors:#?}"
    );
    assert!(errors[1].message.contains("did you mean `variables`?"));
    assert!(errors[3]
        .message
        .contains("put the whole command in quotes"));
}

#[test]
fn runtime_versions_outside_install_and_duplicate_keys_are_errors() {
    let errors = refuse("version: 0.2\nphases:\n  build:\n    runtime-versions: {go: 1.22}\n    commands: [a]\n    commands: [b]\n");
    assert!(errors
        .iter()
        .any(|e| e.line == 4 && e.message.contains("only allowed in the install phase")));
    assert!(errors
        .iter()
        .any(|e| e.line == 6 && e.message.contains("duplicate key `commands`")));
}

#[test]
fn legacy_environment_variables_are_read_as_env_variables() {
    let b = parse("version: 0.1\nenvironment_variables:\n  plaintext:\n    JAVA_HOME: /jvm\nphases:\n  build:\n    commands: [mvn package]\n");
    assert_eq!(
        b.env.variables,
        [("JAVA_HOME".to_string(), "/jvm".to_string())]
    );
}
