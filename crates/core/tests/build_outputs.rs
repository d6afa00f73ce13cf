//! What a build leaves behind: artifacts in the content-addressed store,
//! test reports, and the cache between builds of one pipeline.

mod build_support;

use build_support::{run, Workspace};
use slipway_core::build::{ArtifactStore, BuildStatus, StoreError};

fn paths(store: &ArtifactStore, digest: &str) -> Vec<String> {
    store
        .manifest(digest)
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect()
}

#[tokio::test]
async fn artifacts_follow_base_directory_discard_paths_and_exclude_paths() {
    let ws = Workspace::new();
    let outcome = run(ws.job(
        r#"
version: 0.2
phases:
  build:
    commands:
      - mkdir -p dist/lib && echo app > dist/app.js && echo util > dist/lib/util.js
      - echo map > dist/app.js.map && echo other > notes.txt && chmod 755 dist/app.js
artifacts:
  files:
    - '**/*'
  base-directory: dist
  exclude-paths:
    - '**/*.map'
  secondary-artifacts:
    scripts:
      files:
        - dist/**/*.js
      discard-paths: yes
"#,
    ))
    .await;
    assert_eq!(
        outcome.status,
        BuildStatus::Succeeded,
        "{:?}",
        outcome.error
    );
    let store = ArtifactStore::open(&ws.data).unwrap();
    let primary = &outcome.artifacts[0];
    assert_eq!(primary.identifier, None);
    assert_eq!(
        paths(&store, &primary.artifact.digest),
        ["app.js", "lib/util.js"]
    );
    assert_eq!(primary.artifact.file_count, 2);
    assert_eq!(primary.artifact.size, 9);
    let secondary = &outcome.artifacts[1];
    assert_eq!(secondary.identifier.as_deref(), Some("scripts"));
    assert_eq!(
        paths(&store, &secondary.artifact.digest),
        ["app.js", "util.js"]
    );

    // Materialised, the artifact is the files with their modes.
    let out = tempfile::tempdir().unwrap();
    store
        .materialize(&primary.artifact.digest, out.path())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(out.path().join("lib/util.js")).unwrap(),
        "util\n"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out.path().join("app.js"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);

    // The same files again give the same digest: nothing new is stored.
    let again = store.put_tree(out.path()).unwrap();
    assert_eq!(again.digest, primary.artifact.digest);
}

#[test]
fn retention_keeps_what_deployments_may_roll_back_to() {
    let data = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(data.path()).unwrap();
    let v1 = tempfile::tempdir().unwrap();
    std::fs::write(v1.path().join("shared.txt"), "same in both").unwrap();
    std::fs::write(v1.path().join("app.txt"), "version 1").unwrap();
    let v2 = tempfile::tempdir().unwrap();
    std::fs::write(v2.path().join("shared.txt"), "same in both").unwrap();
    std::fs::write(v2.path().join("app.txt"), "version 2").unwrap();
    let a1 = store.put_tree(v1.path()).unwrap();
    let a2 = store.put_tree(v2.path()).unwrap();
    assert_ne!(a1.digest, a2.digest);

    let report = store.retain(std::slice::from_ref(&a2.digest)).unwrap();
    assert_eq!(report.manifests_removed, 1);
    assert_eq!(report.blobs_removed, 1, "only version 1's own file goes");

    let out = tempfile::tempdir().unwrap();
    store.materialize(&a2.digest, out.path()).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.path().join("shared.txt")).unwrap(),
        "same in both"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("app.txt")).unwrap(),
        "version 2"
    );
    assert!(matches!(
        store.materialize(&a1.digest, out.path()),
        Err(StoreError::Unknown(_))
    ));
}

#[tokio::test]
async fn no_matching_artifact_files_fails_the_build() {
    let ws = Workspace::new();
    let outcome = run(ws.job(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo no files\nartifacts:\n  files:\n    - target/*.jar\n",
    ))
    .await;
    assert_eq!(outcome.status, BuildStatus::Failed);
    assert!(outcome
        .error
        .unwrap()
        .contains("no matching artifact paths found"));
}

#[tokio::test]
async fn junit_reports_are_counted_and_a_broken_one_does_not_crash_the_build() {
    let ws = Workspace::new();
    ws.write(
        "reports/unit/TEST-a.xml",
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="a" tests="3">
    <testcase classname="a" name="adds"/>
    <testcase classname="a" name="subtracts"><failure message="1 != 2"/></testcase>
    <testcase classname="a" name="later"><skipped/></testcase>
  </testsuite>
</testsuites>"#,
    );
    ws.write(
        "reports/unit/nested/TEST-b.xml",
        r#"<testsuite name="b"><testcase name="x"/><testcase name="y"><error/></testcase></testsuite>"#,
    );
    ws.write(
        "reports/broken/TEST-c.xml",
        "<testsuite><testcase></testsuite>",
    );
    let outcome = run(ws.job(
        r#"
version: 0.2
phases:
  build:
    commands:
      - echo testing
reports:
  unit:
    files:
      - '**/*.xml'
    base-directory: reports/unit
  broken:
    files:
      - reports/broken/*.xml
"#,
    ))
    .await;
    assert_eq!(outcome.status, BuildStatus::Succeeded);
    let unit = &outcome.reports[0];
    assert_eq!(unit.group, "unit");
    assert_eq!(
        (unit.passed, unit.failed, unit.skipped, unit.errors),
        (2, 1, 1, 1)
    );
    assert_eq!(unit.files, ["TEST-a.xml", "nested/TEST-b.xml"]);
    assert_eq!(unit.error, None);
    let broken = &outcome.reports[1];
    assert!(
        broken.error.as_deref().unwrap().contains("malformed XML"),
        "{broken:?}"
    );
    assert!(ws
        .log_text()
        .contains("Report unit: 2 passed, 1 failed, 1 skipped, 1 errors"));
}

#[tokio::test]
async fn the_cache_is_restored_by_key_and_by_fallback_prefix() {
    let first = Workspace::new();
    let spec = |key: &str, fallback: &str| {
        format!(
            r#"
version: 0.2
phases:
  install:
    commands:
      - test -f .deps/lib.txt && echo "cached $(cat .deps/lib.txt)" || (mkdir -p .deps && echo fetched > .deps/lib.txt && echo fetching)
cache:
  key: {key}
  fallback-keys:
    - {fallback}
  paths:
    - .deps/**/*
    - /root/.m2/**/*
"#
        )
    };
    let outcome = run(first.job(&spec("deps-v1", "deps-"))).await;
    assert_eq!(outcome.status, BuildStatus::Succeeded);
    assert_eq!(first.output_lines(), ["fetching"]);
    assert!(first
        .log_text()
        .contains("Cache: saved 1 files under key deps-v1"));

    // A fresh source directory, the same data directory: an exact key.
    let mut second = Workspace::new();
    second.data = first.data.clone();
    run(second.job(&spec("deps-v1", "deps-"))).await;
    assert_eq!(second.output_lines(), ["cached fetched"]);

    // A new key falls back to the newest entry whose key has the prefix.
    let mut third = Workspace::new();
    third.data = first.data.clone();
    run(third.job(&spec("deps-v2", "deps-"))).await;
    assert_eq!(third.output_lines(), ["cached fetched"]);
    assert!(third
        .log_text()
        .contains("Cache: restored 1 files from key deps-v1"));

    // Another prefix finds nothing.
    let mut fourth = Workspace::new();
    fourth.data = first.data.clone();
    run(fourth.job(&spec("other-v1", "other-"))).await;
    assert_eq!(fourth.output_lines(), ["fetching"]);
}
