//! A commit, a tag, a force-push, a new branch or a `git gc` in a watched
//! repository, made with the real git CLI, and what the watcher starts.
//! Negative cases are proven by ordering: the ignored change is made first,
//! then one that triggers, and once that one's execution exists the ignored
//! one must have none.

mod watch_support;

use slipway_core::engine::Status;
use slipway_core::watch::WatchEvent;
use watch_support::{pipeline, summary, World};

const WEB_TRIGGERS: &str = "  - push:
      branches: [main, \"release/*\", \"!release/old\"]
      paths:
        include: [\"src/**\", \"buildspec.yml\"]
        exclude: [\"docs/**\", \"src/**/*.md\"]
";

fn web() -> String {
    pipeline(WEB_TRIGGERS, "", "true")
}

fn release() -> String {
    pipeline("  - tag: [\"v*\", \"!v*-rc*\"]\n", "", "true")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_to_a_watched_branch_starts_the_pipeline_and_one_to_excluded_paths_does_not() {
    let mut world = World::new();
    let repo = world.repo(
        "shop",
        &[
            (".slipway/web.yml", &web()),
            ("src/main.rs", "fn main() {}\n"),
        ],
    );
    world.watch().await;
    assert!(
        world.executions().is_empty(),
        "adding a repository builds nothing"
    );

    let docs = repo.commit(&[("docs/guide.md", "how to\n")], "docs only");
    let notes = repo.commit(&[("src/app/NOTES.md", "later\n")], "excluded under src");
    let code = repo.commit(&[("src/main.rs", "fn main() { run() }\n")], "code");
    world
        .until("the code commit to run", |all| {
            all.iter()
                .any(|e| e.revision == code && e.status.is_final())
        })
        .await;
    let all = world.executions();
    assert_eq!(
        summary(&all),
        vec![(code.clone(), "push:main".to_string(), Status::Succeeded)],
        "only the commit touching included paths runs (not {docs} nor {notes})"
    );
    assert_eq!(all[0].pipeline, "shop/web");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_definition_used_is_the_one_at_the_new_commit() {
    let mut world = World::new();
    let repo = world.repo("shop", &[("src/a", "1")]);
    world.watch().await;
    // The first commit brings the pipeline file itself: it is read at that
    // commit, so it triggers.
    let first = repo.commit(
        &[(".slipway/web.yml", &web()), ("src/a", "2")],
        "add pipeline",
    );
    world
        .until("the commit adding the pipeline to run", |all| {
            all.iter().any(|e| e.revision == first)
        })
        .await;
    // A commit that drops the trigger for main does not run, though the
    // work tree's older file said it would.
    let narrowed = web().replace("[main, ", "[");
    repo.commit(
        &[(".slipway/web.yml", &narrowed), ("src/a", "3")],
        "stop building main",
    );
    repo.run(&["checkout", "-q", "-b", "release/2"]);
    let release = repo.commit(&[("src/a", "4")], "on release");
    world
        .until("the release branch to run", |all| {
            all.iter().any(|e| e.revision == release)
        })
        .await;
    let revisions: Vec<_> = world.executions().into_iter().map(|e| e.revision).collect();
    assert_eq!(revisions, vec![first, release]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matching_tag_starts_the_tag_pipeline_and_others_do_not() {
    let mut world = World::new();
    let repo = world.repo(
        "shop",
        &[(".slipway/release.yml", &release()), ("src/a", "1")],
    );
    world.watch().await;
    let tagged = repo.commit(&[("src/a", "2")], "release me");
    repo.run(&["tag", "nightly"]);
    repo.run(&["tag", "-a", "v1.3.0-rc1", "-m", "candidate"]);
    repo.run(&["tag", "-a", "v1.3.0", "-m", "release"]);
    world
        .until("the v1.3.0 tag to run", |all| {
            all.iter().any(|e| e.trigger == "tag:v1.3.0")
        })
        .await;
    let all = world.executions();
    assert_eq!(
        summary(&all)
            .into_iter()
            .map(|(rev, trigger, _)| (rev, trigger))
            .collect::<Vec<_>>(),
        vec![(tagged, "tag:v1.3.0".to_string())],
        "the push to main has no push trigger, and neither `nightly` nor the rc tag match"
    );
}

/// Replaces main's last commit with one made from its parent, moving
/// `main` in one ref update, as a force-push received does.
fn force_main(repo: &watch_support::Git, files: &[(&str, &str)], message: &str) -> String {
    repo.run(&["checkout", "-q", "--detach", "main~1"]);
    let commit = repo.commit(files, message);
    repo.run(&["branch", "-f", "main", &commit]);
    repo.run(&["checkout", "-q", "main"]);
    commit
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_force_push_builds_the_new_head_once_diffed_against_the_old_head() {
    let mut world = World::new();
    let repo = world.repo(
        "shop",
        &[(".slipway/web.yml", &web()), ("src/main.rs", "v1\n")],
    );
    world.watch().await;
    let old = repo.commit(&[("src/main.rs", "v2\n")], "will be rewritten");
    world
        .until("the first commit to run", |all| {
            all.iter().any(|e| e.revision == old)
        })
        .await;
    let rewritten = force_main(&repo, &[("src/main.rs", "v2 fixed\n")], "rewritten");
    world
        .until("the rewritten commit to run", |all| {
            all.iter().any(|e| e.revision == rewritten)
        })
        .await;
    // A rewrite whose tree differs from the head it replaces only in
    // excluded paths does not run: the filter is on old head -> new head.
    let docs_only = force_main(
        &repo,
        &[("src/main.rs", "v2 fixed\n"), ("docs/x.md", "x")],
        "same code, new docs",
    );
    let last = repo.commit(&[("src/main.rs", "v3\n")], "after the rewrites");
    world
        .until("the commit after the rewrites to run", |all| {
            all.iter().any(|e| e.revision == last)
        })
        .await;
    world.settled().await;
    let revisions: Vec<_> = world.executions().into_iter().map(|e| e.revision).collect();
    assert_eq!(
        revisions,
        vec![old, rewritten, last],
        "each head built once; {docs_only} changed only excluded paths"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_gc_does_not_trigger_old_commits_again() {
    let mut world = World::new();
    let both = format!(
        "{}  - tag: [\"v*\"]\n",
        WEB_TRIGGERS.replace("[main, ", "[main, \"feature/*\", ")
    );
    let repo = world.repo(
        "shop",
        &[
            (".slipway/web.yml", &pipeline(&both, "", "true")),
            ("src/a", "1"),
        ],
    );
    world.watch().await;
    let one = repo.commit(&[("src/a", "2")], "one");
    repo.run(&["tag", "v1"]);
    repo.run(&["branch", "feature/x"]);
    world
        .until("the commit and the tag to run", |all| all.len() >= 2)
        .await;
    world.settled().await;
    let before = world.executions().len();
    assert_eq!(
        before, 2,
        "a new branch at an existing commit changed no path"
    );

    // Loose refs move into packed-refs (and vanish for an instant).
    repo.run(&["gc", "-q", "--prune=now"]);
    repo.run(&["pack-refs", "--all"]);
    assert!(repo.path.join(".git/packed-refs").exists());
    assert!(!repo.path.join(".git/refs/heads/main").exists());
    let two = repo.commit(&[("src/a", "3")], "two");
    world
        .until("the commit after the gc to run", |all| {
            all.iter().any(|e| e.revision == two)
        })
        .await;
    world.settled().await;
    let all = world.executions();
    assert_eq!(all.len(), before + 1, "{:#?}", summary(&all));
    assert_eq!(all.iter().filter(|e| e.revision == one).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_branch_is_filtered_against_its_merge_base_and_deletion_runs_nothing() {
    let mut world = World::new();
    let triggers =
        "  - push:\n      branches: [\"feature/*\"]\n      paths:\n        include: [\"src/**\"]\n";
    let repo = world.repo(
        "shop",
        &[
            (".slipway/web.yml", &pipeline(triggers, "", "true")),
            ("src/a", "1"),
        ],
    );
    world.watch().await;
    // Main moves on with a source change the feature branch never sees…
    repo.commit(&[("src/a", "2")], "main moves");
    repo.run(&["checkout", "-q", "-b", "feature/docs", "HEAD~1"]);
    // …so a docs-only branch off the older main does not run,
    let docs = repo.commit(&[("docs/x", "1")], "docs");
    repo.run(&["checkout", "-q", "main"]);
    repo.run(&["branch", "-D", "feature/docs"]);
    // and a branch with a source change does.
    repo.run(&["checkout", "-q", "-b", "feature/code"]);
    let code = repo.commit(&[("src/b", "1")], "code");
    world
        .until("the feature branch to run", |all| {
            all.iter().any(|e| e.revision == code)
        })
        .await;
    let all = world.executions();
    assert_eq!(
        summary(&all)
            .into_iter()
            .map(|(rev, trigger, _)| (rev, trigger))
            .collect::<Vec<_>>(),
        vec![(code, "push:feature/code".to_string())],
        "{docs} (docs only, then deleted) and main (not matched) do not run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_made_while_no_engine_watched_run_when_watching_starts_again() {
    let mut world = World::new();
    let repo = world.repo("shop", &[(".slipway/web.yml", &web()), ("src/a", "1")]);
    world.watch().await;
    world.watch.take().unwrap().stop().await;
    let offline = repo.commit(&[("src/a", "2")], "while nobody watched");
    assert!(world.executions().is_empty());
    world.watch().await;
    world
        .watch_event(
            "the offline commit to trigger",
            |e| matches!(e, WatchEvent::Triggered { commit, .. } if *commit == offline),
        )
        .await;
    world.settled().await;
    assert_eq!(world.executions().len(), 1);
}
