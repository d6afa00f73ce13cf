//! Pipelines run end to end through the real `slipway` binary, on real git
//! repositories, real processes and a real SQLite file.

mod support;

use std::io::Read;

use support::{alive, World};

const BUILD: &str = "\
version: 0.2
env:
  exported-variables: [VERSION]
phases:
  build:
    commands:
      - export VERSION=1.4.$((6*7))
      - mkdir -p dist && echo \"shop $VERSION\" > dist/app.txt
artifacts:
  files: ['**/*']
  base-directory: dist
";

const TEST: &str = "\
version: 0.2
phases:
  build:
    commands:
      - test -f app.txt
      - mkdir -p reports
      - printf '<testsuite tests=\"3\" failures=\"1\"><testcase name=\"a\"/><testcase name=\"b\"/><testcase name=\"c\"><failure/></testcase></testsuite>' > reports/junit.xml
reports:
  unit:
    files: ['reports/*.xml']
";

const PIPELINE: &str = "\
version: 1
variables:
  TARGET: staging
stages:
  - name: Build
    actions:
      - { name: compile, type: build, buildspec: buildspec.yml, namespace: Build, outputs: [app] }
  - name: Test
    actions:
      - { name: unit, type: test, buildspec: buildspec-test.yml, inputs: [app] }
      - { name: lint, type: command, commands: ['echo \"lint #{Build.VERSION} for #{variables.TARGET}\"'] }
  - name: Approve
    actions:
      - { name: release-manager, type: approval, message: 'Promote #{Build.VERSION}?' }
";

#[test]
fn a_three_stage_pipeline_runs_through_to_an_approval_given_from_another_terminal() {
    let world = World::new();
    let repo = world.repo(
        "shop",
        &[
            (".slipway/release.yml", PIPELINE),
            ("buildspec.yml", BUILD),
            ("buildspec-test.yml", TEST),
        ],
    );
    let head = repo.commit(
        &[("README", "uncommitted changes never reach a build\n")],
        "docs",
    );
    std::fs::write(repo.path.join("buildspec.yml"), "broken: [").unwrap();

    let mut run = world.spawn(&[
        "run",
        "shop/release",
        "--wait",
        "--json",
        "--var",
        "TARGET=prod",
    ]);
    let mut id = None;
    world.wait_until("the approval to wait", || {
        id = world.latest_execution();
        id.as_ref().is_some_and(|id| {
            let e = world.json(&["execution", id, "--json"]);
            e["stages"][2]["actions"][0]["status"] == "InProgress"
        })
    });
    let id = id.unwrap();
    let out = world.run(&["approve", &id, "--comment", "ship it"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let status = run.wait().unwrap();
    let mut stdout = String::new();
    run.stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(status.success(), "run --wait exits 0 on success");
    let e: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(e["status"], "Succeeded");
    assert_eq!(e["revision"], head, "the committed head, not the work tree");
    assert_eq!(e["pipeline"], "shop/release");
    assert_eq!(e["trigger"], "manual");
    assert_eq!(e["variables"]["TARGET"], "prod");
    let build = &e["stages"][0]["actions"][0];
    assert_eq!(build["variables"]["VERSION"], "1.4.42");
    let unit = &e["stages"][1]["actions"][0];
    assert_eq!(
        unit["status"], "Succeeded",
        "the app artifact reached the test"
    );
    assert_eq!(unit["reports"][0]["passed"], 2);
    assert_eq!(unit["reports"][0]["failed"], 1);
    let approval = &e["stages"][2]["actions"][0]["approval"];
    assert_eq!(approval["decision"], "Approved");
    assert_eq!(approval["comment"], "ship it");
    assert!(!approval["decided_by"].as_str().unwrap().is_empty());
    assert_eq!(e["artifacts"][0]["name"], "app");
    assert_eq!(e["artifacts"][0]["digest"].as_str().unwrap().len(), 64);

    let out = world.run(&["logs", &id, "--action", "lint"]);
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        log.contains("lint 1.4.42 for prod"),
        "the exported variable reached a later action: {log}"
    );

    let list = world.json(&["executions", "shop/release", "--json"]);
    assert_eq!(list[0]["id"], id.as_str());
    for field in [
        "id",
        "pipeline",
        "status",
        "revision",
        "trigger",
        "started_at",
        "ended_at",
    ] {
        assert!(!list[0][field].is_null(), "executions lists {field}");
    }
}

#[test]
fn a_failing_build_fails_its_stage_and_runs_post_build_and_finally_as_codebuild_does() {
    let world = World::new();
    world.repo(
        "api",
        &[
            (
                ".slipway/ci.yml",
                "version: 1\nstages:\n  - name: Build\n    actions:\n      - { name: compile, type: build }\n  - name: Never\n    actions:\n      - { name: after, type: command, commands: ['true'] }\n",
            ),
            (
                "buildspec.yml",
                "version: 0.2\nphases:\n  build:\n    commands:\n      - echo compiling\n      - exit 3\n      - echo never-printed\n    finally:\n      - echo finally-ran\n  post_build:\n    commands:\n      - echo post-build-saw-succeeding=$CODEBUILD_BUILD_SUCCEEDING\n",
            ),
        ],
    );
    let out = world.run(&["run", "api/ci", "--wait", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "run --wait exits 1 when the execution fails"
    );
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["status"], "Failed");
    assert_eq!(e["stages"][0]["status"], "Failed");
    assert_eq!(e["stages"][0]["actions"][0]["status"], "Failed");
    assert!(
        e["stages"][1]["status"].is_null(),
        "the next stage never started"
    );
    let id = e["id"].as_str().unwrap();
    let log = String::from_utf8_lossy(&world.run(&["logs", id]).stdout).to_string();
    assert!(log.contains("finally-ran"), "{log}");
    assert!(log.contains("post-build-saw-succeeding=0"), "{log}");
    assert!(!log.contains("never-printed"), "{log}");
}

#[test]
fn stop_abandon_ends_a_build_that_ignores_sigterm_and_leaves_no_process() {
    let world = World::new();
    world.repo(
        "stubborn",
        &[
            (".slipway/ci.yml", "version: 1\nstages:\n  - name: Build\n    actions:\n      - { name: hang, type: build }\n"),
            (
                "buildspec.yml",
                "version: 0.2\nphases:\n  build:\n    commands:\n      - trap '' TERM; (trap '' TERM; sleep 300) & echo child=$! > pids; echo shell=$$ >> pids; sleep 300\n",
            ),
        ],
    );
    let mut run = world.spawn(&["run", "stubborn/ci", "--wait"]);
    let data = world.data();
    let mut pids = Vec::new();
    world.wait_until("the build to start its processes", || {
        let Some(id) = world.latest_execution() else {
            return false;
        };
        let file = data
            .join("executions")
            .join(&id)
            .join("actions/0-hang/src/pids");
        let text = std::fs::read_to_string(file).unwrap_or_default();
        pids = text
            .lines()
            .filter_map(|l| {
                l.split_once('=')
                    .and_then(|(_, p)| p.trim().parse::<u32>().ok())
            })
            .collect();
        pids.len() == 2
    });
    assert!(pids.iter().all(|&p| alive(p)));
    let id = world.latest_execution().unwrap();
    let out = world.run(&["stop", &id, "--abandon"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let e = world.json(&["execution", &id, "--json"]);
    assert_eq!(e["status"], "Stopped");
    assert_eq!(e["stages"][0]["actions"][0]["status"], "Stopped");
    for pid in pids {
        assert!(!alive(pid), "process {pid} outlived its stopped build");
    }
}

#[test]
fn killing_the_engine_mid_build_loses_no_record_and_the_next_engine_marks_it_interrupted() {
    let world = World::new();
    world.repo(
        "web",
        &[
            (".slipway/ci.yml", "version: 1\nstages:\n  - name: Build\n    actions:\n      - { name: slow, type: build }\n"),
            ("buildspec.yml", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo $$ > started\n      - sleep 300\n"),
        ],
    );
    let mut run = world.spawn(&["run", "web/ci", "--wait"]);
    let data = world.data();
    let id = world.wait_for_action_file("0-slow", "started");
    let shell: u32 = std::fs::read_to_string(
        data.join("executions")
            .join(&id)
            .join("actions/0-slow/src/started"),
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    run.kill().unwrap(); // SIGKILL: no chance to clean up.
    run.wait().unwrap();
    let e = world.json(&["execution", &id, "--json"]);
    assert_eq!(
        e["status"], "InProgress",
        "the record survived the kill as it was"
    );

    // The next engine to start on this data directory cleans up.
    world.repo("other", &[(".slipway/ok.yml", "version: 1\nstages:\n  - name: S\n    actions:\n      - { name: a, type: command, commands: ['true'] }\n")]);
    let out = world.run(&["run", "other/ok", "--wait"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = world.json(&["execution", &id, "--json"]);
    assert_eq!(e["status"], "Interrupted");
    assert_eq!(e["stages"][0]["status"], "Interrupted");
    assert_eq!(e["stages"][0]["actions"][0]["status"], "Interrupted");
    assert!(!e["ended_at"].is_null());
    world.wait_until("the dead engine's build processes to be gone", || {
        !alive(shell)
    });
}

#[test]
fn an_untrusted_repository_never_runs_and_an_unknown_pipeline_is_named() {
    let world = World::new();
    world.repo("web", &[(".slipway/ci.yml", "version: 1\nstages:\n  - name: S\n    actions:\n      - { name: a, type: command, commands: ['touch ran'] }\n")]);
    let out = world.run(&["repo", "trust", "web", "--revoke"]);
    assert!(out.status.success());
    let out = world.run(&["run", "web/ci"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("slipway repo trust web"));
    assert!(
        world.latest_execution().is_none(),
        "nothing was recorded or run"
    );

    world.run(&["repo", "trust", "web"]);
    let out = world.run(&["run", "web/deploy"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no pipeline") && err.contains("web/deploy"),
        "{err}"
    );
    let out = world.run(&["run", "ci", "--var", "NOPE=1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("declares no variable `NOPE`"));
}

#[test]
fn retry_reruns_only_the_failed_actions_on_the_same_revision() {
    let world = World::new();
    let marks = world.dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let repo = world.repo(
        "flaky",
        &[(
            ".slipway/ci.yml",
            "version: 1\nvariables:\n  MARKS: /nowhere\nstages:\n  - name: Build\n    actions:\n      - { name: steady, type: command, commands: ['echo x >> #{variables.MARKS}/steady'] }\n      - { name: flaky, type: command, commands: ['test -f $MARKS/second-try || { touch $MARKS/second-try; exit 1; }'] }\n  - name: Ship\n    actions:\n      - { name: ship, type: command, commands: ['echo shipped #{Source.COMMIT_ID} >> #{variables.MARKS}/shipped'] }\n",
        )],
    );
    let first_commit = repo.commit(&[("later.txt", "x")], "second commit");
    let var = format!("MARKS={}", marks.display());
    let out = world.run(&["run", "flaky/ci", "--wait", "--json", "--var", &var]);
    assert_eq!(out.status.code(), Some(1));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = e["id"].as_str().unwrap().to_string();
    assert_eq!(e["stages"][0]["status"], "Failed");

    // A newer commit does not change what a retry builds.
    repo.commit(&[("newer.txt", "y")], "third commit");
    let out = world.run(&["retry", &id, "--wait", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["id"], id.as_str(), "a retry continues the same execution");
    assert_eq!(e["status"], "Succeeded");
    assert_eq!(e["revision"], first_commit);
    let build = &e["stages"][0]["actions"];
    assert_eq!(build[0]["name"], "steady");
    assert_eq!(build[0]["attempt"], 1, "what succeeded is not run again");
    assert_eq!(build[1]["attempt"], 2);
    assert_eq!(build[1]["status"], "Succeeded");
    assert_eq!(
        std::fs::read_to_string(marks.join("steady")).unwrap(),
        "x\n"
    );
    assert_eq!(
        std::fs::read_to_string(marks.join("shipped")).unwrap(),
        format!("shipped {first_commit}\n")
    );

    let out = world.run(&["retry", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is Succeeded"));
}

#[test]
fn with_serve_running_the_cli_hands_runs_to_its_engine_instead_of_running_twice() {
    let world = World::new();
    world.repo(
        "web",
        &[(
            ".slipway/ci.yml",
            "version: 1\nstages:\n  - name: Build\n    actions:\n      - { name: a, type: command, commands: ['echo served by $PPID'] }\n  - name: Gate\n    actions:\n      - { name: ok, type: approval }\n",
        )],
    );
    let mut serve = world.spawn(&["serve", "--addr", "127.0.0.1:0"]);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(serve.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("http://127.0.0.1:"), "{line}");

    // Without --wait the command returns as soon as the engine started it.
    let out = world.run(&["run", "web/ci"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    world.wait_until("the approval to wait", || {
        world.json(&["execution", &id, "--json"])["stages"][1]["actions"][0]["status"]
            == "InProgress"
    });
    let out = world.run(&["approve", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A second run with --wait waits for the engine to finish it.
    let mut waiting = world.spawn(&["run", "web/ci", "--wait", "--json"]);
    let mut second = None;
    world.wait_until("the second execution's approval", || {
        let list = world.json(&["executions", "--json"]);
        let newest = list[0]["id"].as_str().unwrap_or("").to_string();
        if newest == id {
            return false;
        }
        let ready = world.json(&["execution", &newest, "--json"])["stages"][1]["actions"][0]
            ["status"]
            == "InProgress";
        second = Some(newest);
        ready
    });
    let out = world.run(&[
        "reject",
        second.as_deref().unwrap(),
        "--comment",
        "not today",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = waiting.wait().unwrap();
    assert_eq!(status.code(), Some(1), "rejected: --wait exits 1");
    let mut stdout = String::new();
    waiting
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let e: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(e["status"], "Failed");
    assert_eq!(
        e["stages"][1]["actions"][0]["approval"]["comment"],
        "not today"
    );

    let first = world.json(&["execution", &id, "--json"]);
    assert_eq!(first["status"], "Succeeded");
    let _ = serve.kill();
    let _ = serve.wait();
}

/// Waits for `child` and returns (exit code, peak resident memory in KiB)
/// from the kernel's accounting of that process.
#[cfg(target_os = "linux")]
fn wait_with_peak_rss(child: std::process::Child) -> (Option<i32>, i64) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 only writes to the
    // two pointers, which outlive the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    std::mem::forget(child); // already reaped
    (code, usage.ru_maxrss)
}

#[cfg(target_os = "linux")]
#[test]
fn a_build_printing_a_gibibyte_keeps_the_engine_small_and_the_log_whole() {
    const LINES: u64 = 10 * 1024 * 1024; // × 103 bytes ≈ 1.0 GiB
    let world = World::new();
    let payload = "x".repeat(100);
    world.repo(
        "loud",
        &[
            (".slipway/ci.yml", "version: 1\nstages:\n  - name: Build\n    actions:\n      - { name: shout, type: build }\n"),
            (
                "buildspec.yml",
                &format!("version: 0.2\nphases:\n  build:\n    commands:\n      - yes 'L:{payload}' | head -n {LINES}\n"),
            ),
        ],
    );
    let child = world
        .slipway()
        .args(["run", "loud/ci", "--wait"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (code, peak_kib) = wait_with_peak_rss(child);
    assert_eq!(code, Some(0));
    let id = world.latest_execution().unwrap();
    let log = world
        .data()
        .join("executions")
        .join(&id)
        .join("logs/0-shout.log");
    let out = std::process::Command::new("grep")
        .args(["-c", &format!("^L:{payload}$")])
        .arg(&log)
        .output()
        .unwrap();
    let counted: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(counted, LINES, "every line reached the log");
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size >= LINES * 103, "{size} bytes");
    eprintln!("peak RSS of `slipway run` over a {size}-byte build log: {peak_kib} KiB");
    assert!(
        peak_kib < 100 * 1024,
        "the engine held {peak_kib} KiB at its peak: output must stream, not pile up"
    );
}

#[test]
fn logs_follow_prints_output_as_it_comes_and_ends_with_the_execution() {
    let world = World::new();
    world.repo(
        "chatty",
        &[
            (".slipway/ci.yml", "version: 1\nstages:\n  - name: Build\n    actions:\n      - { name: talk, type: build }\n  - name: Check\n    actions:\n      - { name: after, type: command, commands: ['echo second action'] }\n"),
            ("buildspec.yml", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo first line\n      - sleep 1\n      - echo last line\n"),
        ],
    );
    let mut run = world.spawn(&["run", "chatty/ci", "--wait"]);
    let mut id = None;
    world.wait_until("the execution to start", || {
        id = world.latest_execution();
        id.is_some()
    });
    let id = id.unwrap();
    let follow = world.spawn(&["logs", &id, "--follow"]);
    let out = follow.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(run.wait().unwrap().success());
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.find("first line").expect("first line");
    let last = text.find("last line").expect("last line");
    assert!(first < last);
    assert!(text.contains("==> Check / after <=="), "{text}");
    assert!(text.contains("second action"), "{text}");
}

#[test]
fn stop_without_abandon_lets_the_running_action_finish_and_starts_nothing_more() {
    let world = World::new();
    world.repo(
        "web",
        &[
            (".slipway/ci.yml", "version: 1\nstages:\n  - name: Build\n    actions:\n      - { name: compile, type: build }\n  - name: Ship\n    actions:\n      - { name: ship, type: command, commands: ['touch shipped'] }\n"),
            ("buildspec.yml", "version: 0.2\nphases:\n  build:\n    commands:\n      - touch started\n      - sleep 1\n      - echo finished-anyway\n"),
        ],
    );
    let mut run = world.spawn(&["run", "web/ci", "--wait"]);
    let id = world.wait_for_action_file("0-compile", "started");
    assert!(world.run(&["stop", &id]).status.success());
    assert_eq!(run.wait().unwrap().code(), Some(1));
    let e = world.json(&["execution", &id, "--json"]);
    assert_eq!(e["status"], "Stopped");
    assert_eq!(
        e["stages"][0]["actions"][0]["status"], "Succeeded",
        "it was let finish"
    );
    assert!(
        e["stages"][1]["status"].is_null(),
        "nothing after it started"
    );
    let log = String::from_utf8_lossy(&world.run(&["logs", &id]).stdout).to_string();
    assert!(log.contains("finished-anyway"), "{log}");
    let out = world.run(&["stop", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already over"));
}

#[test]
fn an_unanswered_approval_fails_when_its_timeout_passes() {
    let world = World::new();
    world.repo(
        "web",
        &[(".slipway/ci.yml", "version: 1\nstages:\n  - name: Gate\n    actions:\n      - { name: release-manager, type: approval, timeout: 1s }\n")],
    );
    let out = world.run(&["run", "web/ci", "--wait", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let action = &e["stages"][0]["actions"][0];
    assert_eq!(action["status"], "Failed");
    assert!(
        action["error"].as_str().unwrap().contains("timed out"),
        "{action}"
    );
}
