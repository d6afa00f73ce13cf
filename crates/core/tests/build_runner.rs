//! The buildspec runner as a user meets it: real shells, real processes,
//! real log files. Each test is one story from a buildspec author.

mod build_support;

use std::time::{Duration, Instant};

use build_support::{exists_and_runs, read_pid, run, Workspace};
use slipway_core::build::{self, BuildStatus};
use slipway_core::spec::buildspec::PhaseName;

#[tokio::test]
async fn a_failing_build_still_runs_finally_and_post_build_with_succeeding_0() {
    let ws = Workspace::new();
    let job = ws.job(
        r#"
version: 0.2
phases:
  install:
    commands:
      - echo installing
  build:
    commands:
      - echo building
      - "false"
      - echo never-runs
    finally:
      - echo finally-ran
  post_build:
    commands:
      - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"
"#,
    );
    let outcome = run(job).await;
    assert_eq!(outcome.status, BuildStatus::Failed);
    let build = outcome.phase(PhaseName::Build).unwrap();
    assert_eq!(build.status, BuildStatus::Failed);
    assert_eq!(build.exit_code, Some(1));
    let failed = build.failed_command.as_ref().unwrap();
    assert_eq!((failed.text.as_str(), failed.line), ("false", 10));
    assert_eq!(
        outcome.phase(PhaseName::PostBuild).unwrap().status,
        BuildStatus::Succeeded
    );
    let out = ws.output_lines();
    assert_eq!(
        out,
        ["installing", "building", "finally-ran", "succeeding=0"]
    );
    let log = ws.log_text();
    assert!(log.contains("Entering phase BUILD"));
    assert!(log.contains("Phase complete: BUILD State: FAILED"));
    assert!(log.contains("Running command echo building"));
}

#[tokio::test]
async fn a_failing_pre_build_ends_the_build() {
    let ws = Workspace::new();
    let outcome = run(ws.job(
        "version: 0.2\nphases:\n  pre_build:\n    commands:\n      - exit 3\n  build:\n    commands:\n      - echo built\n  post_build:\n    commands:\n      - echo post\n",
    ))
    .await;
    assert_eq!(outcome.status, BuildStatus::Failed);
    assert_eq!(outcome.phases.len(), 1);
    assert_eq!(outcome.phases[0].exit_code, Some(3));
    assert!(ws.output_lines().is_empty());
}

#[tokio::test]
async fn on_failure_continue_goes_on_but_the_build_fails() {
    let ws = Workspace::new();
    let outcome = run(ws.job(
        r#"
version: 0.2
phases:
  install:
    on-failure: CONTINUE
    commands:
      - "false"
  build:
    commands:
      - echo "built succeeding=$CODEBUILD_BUILD_SUCCEEDING"
"#,
    ))
    .await;
    assert_eq!(outcome.status, BuildStatus::Failed);
    assert_eq!(
        outcome.phase(PhaseName::Install).unwrap().status,
        BuildStatus::Failed
    );
    assert_eq!(
        outcome.phase(PhaseName::Build).unwrap().status,
        BuildStatus::Succeeded
    );
    assert_eq!(ws.output_lines(), ["built succeeding=0"]);
}

#[tokio::test]
async fn retry_2_reruns_a_flaky_phase_until_it_passes() {
    let ws = Workspace::new();
    let outcome = run(ws.job(
        r#"
version: 0.2
phases:
  build:
    on-failure: RETRY-2
    commands:
      - n=$(cat attempts 2>/dev/null || echo 0); echo $((n+1)) > attempts
      - test "$(cat attempts)" -ge 3
"#,
    ))
    .await;
    assert_eq!(
        outcome.status,
        BuildStatus::Succeeded,
        "{:?}",
        outcome.error
    );
    assert_eq!(outcome.phases[0].attempts, 3);
    assert!(ws
        .log_text()
        .contains("Retrying phase BUILD (retry 2 of 2)"));

    // A pattern that the error output does not match: no retry.
    let ws = Workspace::new();
    let outcome = run(ws.job(
        "version: 0.2\nphases:\n  build:\n    on-failure: RETRY-2-network\n    commands:\n      - echo disk full; exit 1\n",
    ))
    .await;
    assert_eq!(outcome.status, BuildStatus::Failed);
    assert_eq!(outcome.phases[0].attempts, 1);
}

#[tokio::test]
async fn version_0_2_keeps_one_shell_and_0_1_does_not() {
    let commands = r#"
phases:
  install:
    commands:
      - mkdir -p sub && cd sub
      - export EXPORTED=yes
      - PLAIN=kept
  build:
    commands:
      - basename "$(pwd)"
      - echo "exported=$EXPORTED plain=$PLAIN"
"#;
    let ws = Workspace::new();
    let outcome = run(ws.job(&format!("version: 0.2{commands}"))).await;
    assert_eq!(outcome.status, BuildStatus::Succeeded);
    assert_eq!(ws.output_lines(), ["sub", "exported=yes plain=kept"]);

    let ws = Workspace::new();
    run(ws.job(&format!("version: 0.1{commands}"))).await;
    assert_eq!(ws.output_lines(), ["src", "exported= plain="]);
}

#[tokio::test]
async fn a_block_command_fails_only_on_its_last_line_unless_set_e() {
    let ws = Workspace::new();
    let outcome = run(ws.job(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - |\n        false\n        echo still-here\n",
    ))
    .await;
    assert_eq!(outcome.status, BuildStatus::Succeeded);
    assert_eq!(ws.output_lines(), ["still-here"]);

    let ws = Workspace::new();
    let outcome = run(ws.job(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - |\n        set -e\n        false\n        echo not-here\n",
    ))
    .await;
    assert_eq!(outcome.status, BuildStatus::Failed);
    assert!(ws.output_lines().is_empty());
}

#[tokio::test]
async fn exported_variables_and_reserved_names() {
    let ws = Workspace::new();
    let mut job = ws.job(
        r#"
version: 0.2
env:
  shell: sh
  variables:
    CODEBUILD_BUILD_ID: hijacked
    LITERAL: "$HOME"
  exported-variables:
    - IMAGE_TAG
    - LITERAL
    - NEVER_SET
    - AWS_REGION
    - TOKEN
phases:
  build:
    commands:
      - export IMAGE_TAG="v1-$CODEBUILD_BUILD_NUMBER"
      - echo "id=$CODEBUILD_BUILD_ID commit=$CODEBUILD_RESOLVED_SOURCE_VERSION by=$CODEBUILD_INITIATOR"
      - TOKEN="s3cr3t-value"
"#,
    );
    job.secrets = vec!["s3cr3t-value".into()];
    job.context.region = Some("eu-west-1".into());
    let outcome = run(job).await;
    assert_eq!(outcome.status, BuildStatus::Succeeded);
    let exported: Vec<(&str, &str)> = outcome
        .exported_variables
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(exported, [("IMAGE_TAG", "v1-7"), ("LITERAL", "$HOME")]);
    assert_eq!(
        ws.output_lines(),
        ["id=demo:1234 commit=0123abcd by=codepipeline/demo"]
    );
    let log = ws.log_text();
    assert!(log.contains("Ignoring CODEBUILD_BUILD_ID from env.variables"));
    assert!(log.contains("Not exporting AWS_REGION"));
    assert!(log.contains("Not exporting TOKEN: its value holds a secret"));
}

#[tokio::test]
async fn a_parameter_store_reference_fails_before_any_command() {
    let ws = Workspace::new();
    let outcome = run(ws.job(
        "version: 0.2\nenv:\n  parameter-store:\n    DB_PASSWORD: /prod/db/password\nphases:\n  build:\n    commands:\n      - touch ran\n",
    ))
    .await;
    assert_eq!(outcome.status, BuildStatus::Failed);
    let error = outcome.error.unwrap();
    assert!(error.contains("DB_PASSWORD"), "{error}");
    assert!(
        error.contains("slipway secret set /prod/db/password"),
        "{error}"
    );
    assert!(outcome.phases.is_empty());
    assert!(!ws.src.join("ran").exists());
}

#[tokio::test]
async fn stop_kills_a_script_that_ignores_sigterm_and_its_background_child() {
    let ws = Workspace::new();
    let job = ws.job(
        r#"
version: 0.2
phases:
  build:
    commands:
      - |
        trap '' TERM
        sh -c 'echo $$ > child.pid; exec sleep 30' &
        echo $$ > shell.pid
        sleep 30
      - echo never
"#,
    );
    let (handle, stop) = build::stop_signal();
    let started = Instant::now();
    let build = tokio::spawn(build::run(job, stop, build::NoSink));
    let (shell_pid, child_pid) = loop {
        if let (Some(s), Some(c)) = (
            read_pid(&ws.src.join("shell.pid")),
            read_pid(&ws.src.join("child.pid")),
        ) {
            break (s, c);
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the script never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exists_and_runs(shell_pid) && exists_and_runs(child_pid));
    handle.stop();
    let outcome = build.await.unwrap();
    assert_eq!(outcome.status, BuildStatus::Stopped);
    assert_eq!(outcome.phases[0].status, BuildStatus::Stopped);
    assert!(!exists_and_runs(shell_pid), "the shell outlived its build");
    assert!(
        !exists_and_runs(child_pid),
        "the background child outlived its build"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(!ws.output_lines().contains(&"never".to_string()));
}

#[tokio::test]
async fn a_build_that_runs_too_long_times_out() {
    let ws = Workspace::new();
    let mut job = ws.job("version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 20\n  post_build:\n    commands:\n      - echo post\n");
    job.timeout = Duration::from_millis(400);
    let started = Instant::now();
    let outcome = run(job).await;
    assert_eq!(outcome.status, BuildStatus::TimedOut);
    assert_eq!(outcome.phases.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(ws.log_text().contains("Build timed out"));
}

#[tokio::test]
async fn background_processes_end_with_the_build() {
    let ws = Workspace::new();
    let outcome = run(ws.job(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 30 & echo $! > bg.pid\n",
    ))
    .await;
    assert_eq!(outcome.status, BuildStatus::Succeeded);
    let pid = read_pid(&ws.src.join("bg.pid")).unwrap();
    assert!(!exists_and_runs(pid));
}

#[tokio::test]
async fn secrets_are_masked_even_when_split_across_writes() {
    let ws = Workspace::new();
    let mut job = ws.job(
        r#"
version: 0.2
phases:
  build:
    commands:
      - printf 'pass=hunter'; sleep 0.1; printf '2-secret done\n'
      - echo hunter2-secret >&2
"#,
    );
    job.secrets = vec!["hunter2-secret".into()];
    let outcome = run(job).await;
    assert_eq!(outcome.status, BuildStatus::Succeeded);
    let log = ws.log_text();
    assert!(!log.contains("hunter2"), "{log}");
    assert_eq!(ws.output_lines(), ["pass=*** done", "***"]);
    assert!(log.contains("Running command echo *** >&2"));
}

#[tokio::test]
async fn live_output_arrives_in_batches_that_match_the_log() {
    let ws = Workspace::new();
    let job = ws.job("version: 0.2\nphases:\n  build:\n    commands:\n      - seq 1 20000\n");
    let mut batches: Vec<Vec<u8>> = Vec::new();
    let outcome = build::run(job, build::StopSignal::never(), |b: &[u8]| {
        batches.push(b.to_vec())
    })
    .await;
    assert_eq!(outcome.status, BuildStatus::Succeeded);
    assert!(
        batches.len() < 50 && batches.iter().all(|b| b.len() <= build::BATCH_BYTES),
        "{} batches for 20000 lines",
        batches.len()
    );
    assert_eq!(batches.concat(), std::fs::read(&ws.log).unwrap());
}

#[tokio::test]
async fn two_hundred_megabytes_of_output_reach_the_log_exactly() {
    let ws = Workspace::new();
    let outcome = run(ws.job(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - yes abcdefghi | head -c 200000000\n",
    ))
    .await;
    assert_eq!(outcome.status, BuildStatus::Succeeded);
    // The log is the runner's lines, then 20,000,000 lines of
    // "abcdefghi\n", then the runner's lines: check both ends and that
    // the size is exact, without reading 200 MB in a debug build.
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(&ws.log).unwrap();
    let size = file.metadata().unwrap().len();
    let window = 64 * 1024;
    let mut head = vec![0u8; window];
    file.read_exact(&mut head).unwrap();
    let first = find(&head, b"\nabcdefghi\n").unwrap() + 1;
    assert!(head[..first]
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .all(|l| l.starts_with(b"[Container]")));
    let mut tail = vec![0u8; window];
    file.seek(SeekFrom::End(-(window as i64))).unwrap();
    file.read_exact(&mut tail).unwrap();
    let last = tail.len() - find_last(&tail, b"abcdefghi\n[Container]").unwrap() - 10;
    let runner_after = &tail[tail.len() - last..];
    assert!(runner_after
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .all(|l| l.starts_with(b"[Container]")));
    assert_eq!(size, first as u64 + 200_000_000 + last as u64);
    // And a window from the middle holds nothing but the output.
    let mut middle = vec![0u8; 1000];
    file.seek(SeekFrom::Start(first as u64 + 100_000_000))
        .unwrap();
    file.read_exact(&mut middle).unwrap();
    assert!(middle.chunks(10).all(|c| c == b"abcdefghi\n"));
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}
