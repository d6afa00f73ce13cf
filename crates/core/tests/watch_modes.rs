//! Bursts of commits and the pipeline's execution mode: every commit is
//! recorded as an execution, in commit order; `superseded` builds the newest
//! and supersedes what waited, `queued` runs each one in turn.

mod watch_support;

use slipway_core::engine::Status;
use watch_support::{pipeline, World};

const ON_MAIN: &str = "  - push:\n      branches: [main]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_twenty_commits_under_superseded_ends_with_the_newest_built_and_none_lost() {
    let mut world = World::new();
    // Two stages, so executions meet at a stage boundary where a newer one
    // supersedes the one waiting.
    let file = pipeline(ON_MAIN, "", "sleep 0.3").replace(
        "stages:\n",
        "stages:\n  - name: Prepare\n    actions:\n      - { name: prep, type: command, commands: ['sleep 2'] }\n",
    );
    let repo = world.repo("shop", &[(".slipway/web.yml", &file)]);
    world.watch().await;
    let started = std::time::Instant::now();
    let commits: Vec<String> = (0..20)
        .map(|i| repo.commit(&[("n", &i.to_string())], &format!("commit {i}")))
        .collect();
    let burst = started.elapsed();
    assert!(
        burst < std::time::Duration::from_secs(2),
        "the burst ({burst:?}) must fit in the first stage's 2 s for the test to mean anything"
    );
    let newest = commits.last().unwrap().clone();
    world
        .until("the newest commit to be built", |all| {
            all.iter()
                .any(|e| e.revision == newest && e.status.is_final())
        })
        .await;
    world.settled().await;
    let all = world.executions();
    let revisions: Vec<_> = all.iter().map(|e| e.revision.clone()).collect();
    assert_eq!(
        revisions, commits,
        "one execution per commit, in commit order (burst took {burst:?})"
    );
    assert_eq!(all.last().unwrap().status, Status::Succeeded);
    // The first may have got into the first stage before the others came
    // (the engine's superseded mode then lets it finish); every one between
    // it and the newest was overtaken.
    assert!(matches!(
        all[0].status,
        Status::Succeeded | Status::Superseded
    ));
    for e in &all[1..all.len() - 1] {
        assert_eq!(e.status, Status::Superseded, "{}", e.message);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_queued_every_commit_runs_in_order() {
    let mut world = World::new();
    let log = world.dir.path().join("order.log");
    // Each run appends its commit's number, slowly, to a log outside the
    // repository: overlapping or reordered runs would show there.
    let command = format!(
        "n=$(cat n); sleep 0.05; echo start $n >> {log}; sleep 0.1; echo end $n >> {log}",
        log = log.display()
    );
    let file = pipeline(ON_MAIN, "execution-mode: queued\n", &command);
    let repo = world.repo("shop", &[(".slipway/web.yml", &file), ("n", "0")]);
    world.watch().await;
    let commits: Vec<String> = (1..=6)
        .map(|i| repo.commit(&[("n", &i.to_string())], &format!("commit {i}")))
        .collect();
    world
        .until("six executions to end", |all| {
            all.len() == 6 && all.iter().all(|e| e.status.is_final())
        })
        .await;
    let all = world.executions();
    let revisions: Vec<_> = all.iter().map(|e| e.revision.clone()).collect();
    assert_eq!(revisions, commits);
    assert!(
        all.iter().all(|e| e.status == Status::Succeeded),
        "{all:#?}"
    );
    let expected: String = (1..=6).map(|i| format!("start {i}\nend {i}\n")).collect();
    assert_eq!(std::fs::read_to_string(&log).unwrap(), expected);
}
