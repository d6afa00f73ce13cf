//! Repositories that come and go while the engine runs: moved or deleted
//! then restored, added, untrusted, removed — all without a restart.

mod watch_support;

use slipway_core::watch::WatchEvent;
use watch_support::{pipeline, Git, World};

fn on_main() -> String {
    pipeline("  - push:\n      branches: [main]\n", "", "true")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_moved_away_then_back_is_marked_missing_and_watched_again() {
    let mut world = World::new();
    let repo = world.repo("shop", &[(".slipway/web.yml", &on_main())]);
    world.watch().await;

    let away = world.dir.path().join("elsewhere");
    std::fs::rename(&repo.path, &away).unwrap();
    world
        .watch_event(
            "the repository to be missing",
            |e| matches!(e, WatchEvent::Missing { repository, .. } if repository == "shop"),
        )
        .await;
    let listed = slipway_core::repos::list(&world.store).unwrap();
    assert!(listed[0].missing, "repo list shows it missing");

    // A commit made while it is elsewhere is not seen from there…
    let moved = Git { path: away.clone() };
    let while_away = moved.commit(&[("a", "1")], "while away");
    std::fs::rename(&away, &repo.path).unwrap();
    world
        .watch_event("the repository to be watched again", |e| {
            matches!(e, WatchEvent::Watching { repository, again: true, .. } if repository == "shop")
        })
        .await;
    // …but is found when it returns, and later commits trigger as before.
    let after = repo.commit(&[("a", "2")], "after the return");
    world
        .until("both commits to run", |all| {
            all.iter().any(|e| e.revision == after)
        })
        .await;
    let revisions: Vec<_> = world.executions().into_iter().map(|e| e.revision).collect();
    assert_eq!(revisions, vec![while_away, after]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_repository_and_its_deleted_parent_folder_are_awaited_without_errors() {
    let mut world = World::new();
    let parent = world.dir.path().join("projects");
    let repo = Git::init(&parent.join("shop"), &[(".slipway/web.yml", &on_main())]);
    world.add(&repo, true);
    world.watch().await;
    let backup = world.dir.path().join("backup");
    copy_dir(&parent, &backup);

    std::fs::remove_dir_all(&parent).unwrap();
    world
        .watch_event("the repository to be missing", |e| {
            matches!(e, WatchEvent::Missing { .. })
        })
        .await;
    // Restoring the folder that held it (a backup, a remounted disk).
    std::fs::rename(&backup, &parent).unwrap();
    let mut errors = Vec::new();
    world
        .watch_event("the repository to be watched again", |e| {
            if let WatchEvent::Error { error, .. } = e {
                errors.push(error.clone());
            }
            matches!(e, WatchEvent::Watching { again: true, .. })
        })
        .await;
    assert!(
        errors.is_empty(),
        "a missing repository is not an error: {errors:?}"
    );
    let commit = repo.commit(&[("a", "1")], "after the restore");
    world
        .until("the commit after the restore to run", |all| {
            all.iter().any(|e| e.revision == commit)
        })
        .await;
    assert_eq!(world.executions().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_added_while_watching_is_watched_and_an_untrusted_one_is_not() {
    let mut world = World::new();
    world.watch().await;
    let shop = Git::init(
        &world.dir.path().join("shop"),
        &[(".slipway/web.yml", &on_main())],
    );
    let stranger = Git::init(
        &world.dir.path().join("stranger"),
        &[(".slipway/web.yml", &on_main())],
    );
    world.add(&stranger, false);
    world.add(&shop, true);
    world
        .watch_event(
            "the added repository to be watched",
            |e| matches!(e, WatchEvent::Watching { repository, .. } if repository == "shop"),
        )
        .await;
    stranger.commit(&[("a", "1")], "untrusted code");
    let commit = shop.commit(&[("a", "1")], "trusted code");
    world
        .until("the trusted commit to run", |all| {
            all.iter().any(|e| e.revision == commit)
        })
        .await;
    assert_eq!(world.executions().len(), 1, "the untrusted repository ran");

    // No longer trusted: no longer watched.
    slipway_core::repos::set_trusted(&world.store, "shop", false, 2).unwrap();
    slipway_core::engine::wake::poke(&world.data, slipway_core::engine::wake::REPOSITORIES)
        .unwrap();
    world
        .watch_event(
            "the untrusted repository to be dropped",
            |e| matches!(e, WatchEvent::Unwatched { repository } if repository == "shop"),
        )
        .await;
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}
