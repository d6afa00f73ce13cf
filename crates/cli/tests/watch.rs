//! `slipway watch` end to end: the real binary hosting the engine, a real
//! repository committed to with the git CLI, `repo add` from another
//! process, and SIGTERM.

mod support;

use std::process::Command;

use support::{next_json, stdout_lines, World};

const PIPELINE: &str = "\
version: 1
triggers:
  - push:
      branches: [main]
stages:
  - name: Build
    actions:
      - { name: compile, type: command, commands: ['echo built'] }
";

#[test]
fn slipway_watch_runs_what_commits_trigger_prints_each_event_and_stops_cleanly() {
    let world = World::new();
    let shop = world.repo("shop", &[(".slipway/web.yml", PIPELINE)]);
    let mut watch = world.spawn(&["watch", "--json"]);
    let lines = stdout_lines(&mut watch);
    let ready = next_json(&lines, "ready", |v| v["event"] == "ready");
    assert_eq!(ready["repositories"], 1);

    let commit = shop.commit(&[("src/a", "1")], "a change");
    // The engine reports the start as it creates the execution, so the
    // "started" line may come before or after the "triggered" one.
    let mut seen = Vec::new();
    let finished = next_json(&lines, "the end", |v| {
        seen.push(v.clone());
        v["event"] == "finished"
    });
    let triggered = seen
        .iter()
        .find(|v| v["event"] == "triggered")
        .expect("a trigger line");
    assert_eq!(triggered["commit"], commit.as_str());
    assert_eq!(triggered["trigger"], "push:main");
    let id = triggered["execution"].as_str().unwrap().to_string();
    let started = seen.iter().find(|v| v["event"] == "started").unwrap();
    assert_eq!(started["execution"], id.as_str());
    assert_eq!(started["revision"], commit.as_str());
    assert_eq!(finished["execution"], id.as_str());
    assert_eq!(finished["status"], "Succeeded");
    assert!(finished["duration_ms"].as_i64().unwrap() >= 0);
    let listed = world.json(&["executions", "--json"]);
    assert_eq!(listed[0]["id"], id.as_str());

    // Another engine on the same data directory is refused, clearly.
    let second = world.run(&["watch"]);
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("already runs the engine"), "{stderr}");

    // A repository added from another terminal is watched at once.
    let docs = world.repo("docs", &[(".slipway/site.yml", PIPELINE)]);
    next_json(&lines, "the added repository", |v| {
        v["event"] == "watching" && v["repository"] == "docs"
    });
    let page = docs.commit(&[("index.md", "hello")], "a page");
    let triggered = next_json(&lines, "the added repository's trigger", |v| {
        v["event"] == "triggered"
    });
    assert_eq!(triggered["commit"], page.as_str());
    assert_eq!(triggered["repository"], "docs");

    let killed = Command::new("kill")
        .args(["-TERM", &watch.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    next_json(&lines, "the stop", |v| v["event"] == "stopped");
    let status = watch.wait().unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM stops cleanly");
}

#[test]
fn slipway_watch_prints_readable_lines() {
    let world = World::new();
    world.repo("shop", &[(".slipway/web.yml", PIPELINE)]);
    let mut watch = world.spawn(&["watch"]);
    let lines = stdout_lines(&mut watch);
    let first = lines
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap();
    assert!(first.starts_with("watching shop ("), "{first}");
    let ready = lines
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap();
    assert!(
        ready.starts_with("ready: watching 1 repositories"),
        "{ready}"
    );
    Command::new("kill")
        .args(["-INT", &watch.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(
        watch.wait().unwrap().code(),
        Some(0),
        "Ctrl-C stops cleanly"
    );
}

#[test]
fn serve_watches_too_a_commit_triggers_its_pipeline_with_the_branch_recorded() {
    let world = World::new();
    let repo = world.repo(
        "shop",
        &[(
            ".slipway/ci.yml",
            "version: 1\ntriggers:\n  - push:\n      branches: [main]\nstages:\n  - name: S\n    actions:\n      - { name: a, type: command, commands: ['true'] }\n",
        )],
    );
    let mut serve = world.spawn(&["serve", "--addr", "127.0.0.1:0"]);
    let lines = stdout_lines(&mut serve);
    let url = lines
        .recv_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let commit = repo.commit(&[("src/app.txt", "v2")], "Change the app");
    world.wait_until("the push to run", || {
        let list = world.json(&["executions", "--json"]);
        list[0]["revision"] == commit.as_str() && list[0]["status"] == "Succeeded"
    });
    let list = world.json(&["executions", "--json"]);
    assert_eq!(list[0]["trigger"], "push:main");
    assert_eq!(list[0]["branch"], "main");
    assert_eq!(list[0]["message"], "Change the app");
    let _ = serve.kill();
    let _ = serve.wait();
}

#[test]
fn paused_watching_runs_nothing_until_resumed() {
    let world = World::new();
    let shop = world.repo("shop", &[(".slipway/web.yml", PIPELINE)]);
    let mut watch = world.spawn(&["watch", "--json"]);
    let lines = stdout_lines(&mut watch);
    next_json(&lines, "ready", |v| v["event"] == "ready");
    let paused = world.json(&["settings", "--watching-paused", "true", "--json"]);
    assert_eq!(paused["watching_paused"], true);
    let commit = shop.commit(&[("src/a", "1")], "while paused");
    let skipped = next_json(&lines, "the paused trigger", |v| v["event"] == "paused");
    assert_eq!(skipped["commit"], commit.as_str());
    assert_eq!(world.json(&["executions", "--json"]), serde_json::json!([]));
    world.json(&["settings", "--watching-paused", "false", "--json"]);
    let commit = shop.commit(&[("src/b", "2")], "after resuming");
    let triggered = next_json(&lines, "the trigger", |v| v["event"] == "triggered");
    assert_eq!(triggered["commit"], commit.as_str());
    let _ = watch.kill();
}

#[test]
fn a_commit_made_after_trusting_a_repository_runs_even_before_the_watcher_sees_it() {
    let world = World::new();
    // Added and trusted with no engine running, then a commit: the
    // watcher that starts later builds it (its baseline is the moment of
    // trust, not the moment it first looks).
    let shop = world.repo("shop", &[(".slipway/web.yml", PIPELINE)]);
    let commit = shop.commit(&[("src/a", "1")], "after trusting");
    let mut watch = world.spawn(&["watch", "--json"]);
    let lines = stdout_lines(&mut watch);
    let triggered = next_json(&lines, "the trigger", |v| v["event"] == "triggered");
    assert_eq!(triggered["commit"], commit.as_str());
    // The initial commit, from before the trust, is not built.
    let _ = next_json(&lines, "the end", |v| v["event"] == "finished");
    assert_eq!(
        world
            .json(&["executions", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let _ = watch.kill();
}
