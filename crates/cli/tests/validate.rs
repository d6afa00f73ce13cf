//! `slipway validate` run as a user would: the real binary on real files,
//! checking exit codes, compiler-style messages and the JSON shape.

use std::path::Path;
use std::process::{Command, Output};

fn slipway(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .arg("validate")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the slipway binary runs")
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const GOOD_BUILDSPEC: &str = "version: 0.2\nphases:\n  build:\n    commands:\n      - make\n";
const GOOD_PIPELINE: &str =
    "version: 1\nstages:\n  - name: Build\n    actions:\n      - {name: compile, type: build}\n";

#[test]
fn valid_files_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "buildspec.yml", GOOD_BUILDSPEC);
    let out = slipway(dir.path(), &["buildspec.yml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 file valid"));
}

#[test]
fn an_invalid_file_exits_one_with_compiler_style_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "buildspec.yml", "version: 0.2\nphases:\n  build:\n    commands: [make]\n  post-build:\n    commands: [ls]\n");
    let out = slipway(dir.path(), &["buildspec.yml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("buildspec.yml:5:3: error: unknown phase `post-build`; did you mean `post_build`? (at phases.post-build)"),
        "{stderr}"
    );
    assert!(stderr.contains("1 of 1 file invalid (1 error)"), "{stderr}");
}

#[test]
fn json_output_lists_every_file_with_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "buildspec.yml", GOOD_BUILDSPEC);
    write(
        dir.path(),
        "deploy/appspec.yml",
        "version: 0.0\nos: linux\nhooks:\n  AfterInstal:\n    - location: a.sh\n",
    );
    let out = slipway(
        dir.path(),
        &["--json", "buildspec.yml", "deploy/appspec.yml"],
    );
    assert_eq!(out.status.code(), Some(1));
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["file"], "buildspec.yml");
    assert_eq!(reports[0]["kind"], "buildspec");
    assert_eq!(reports[0]["ok"], true);
    assert_eq!(reports[0]["errors"], serde_json::json!([]));
    assert_eq!(reports[1]["kind"], "appspec");
    assert_eq!(reports[1]["ok"], false);
    let e = &reports[1]["errors"][0];
    assert_eq!(e["line"], 4);
    assert_eq!(e["column"], 3);
    assert_eq!(e["path"], "hooks.AfterInstal");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("did you mean `AfterInstall`?"));
    let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["column", "line", "message", "path"]);
}

#[test]
fn a_file_whose_kind_cannot_be_told_is_bad_usage_unless_kind_is_given() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ci.yml", GOOD_BUILDSPEC);
    let out = slipway(dir.path(), &["ci.yml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --kind"));
    let out = slipway(dir.path(), &["--kind", "buildspec", "ci.yml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = slipway(dir.path(), &["--kind", "appspec", "ci.yml"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn with_no_path_the_repository_is_searched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    write(dir.path(), ".slipway/web.yml", GOOD_PIPELINE);
    write(
        dir.path(),
        "services/api/buildspec-test.yml",
        GOOD_BUILDSPEC,
    );
    write(
        dir.path(),
        "node_modules/pkg/buildspec.yml",
        "not: a buildspec\n",
    );
    write(dir.path(), "README.md", "# hi\n");
    let sub = dir.path().join("services");
    let out = slipway(&sub, &["--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["pipeline", "buildspec"]);
}

#[test]
fn nothing_to_validate_is_bad_usage_and_unreadable_files_are_invalid() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let out = slipway(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no pipeline, buildspec or appspec files found"));
    let out = slipway(dir.path(), &["buildspec.yml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the file"));
}

#[test]
fn binary_garbage_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("appspec.json"), [0xff, 0xfe, 0x00, b'{']).unwrap();
    let out = slipway(dir.path(), &["appspec.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8"));
}
