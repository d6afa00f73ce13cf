//! The `s3` provider as a release manager uses it: a static site released
//! to a bucket by the real `slipway watch` engine with the environment
//! account's STS session (a profile whose keys are in the real keychain,
//! from `tests/with-keyring.sh`), against S3, CloudFront and STS served by
//! moto; the real AWS CLI creates the bucket and the distribution and
//! reads back every object, header and invalidation. Real HTTP on
//! 127.0.0.1, no mocks.
#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeMap;

use support::aws::{pipeline, Aws, Project, LONG_TERM_SECRET, REGION};

const BUCKET: &str = "www.example.com";

const V1: &[(&str, &str)] = &[
    (
        "site/index.html",
        "<link rel=stylesheet href=assets/app.css><script src=assets/app.js></script><h1>v1</h1>",
    ),
    ("site/about.html", "<h1>About us</h1>"),
    ("site/assets/app.css", "h1 { color: navy }"),
    ("site/assets/app.js", "console.log('v1')"),
    (
        "site/assets/logo.png",
        "not really a PNG, typed by its name",
    ),
    ("site/assets/hello world.txt", "hello"),
];

/// v2: index.html and the text file change, extra.js is new, about.html
/// is gone.
const V2: &[(&str, &str)] = &[
    (
        "site/index.html",
        "<link rel=stylesheet href=assets/app.css><script src=assets/extra.js></script><h1>v2</h1>",
    ),
    ("site/assets/extra.js", "console.log('v2')"),
    ("site/assets/hello world.txt", "hello again"),
];

/// The environment `web`, `extra` lines added under it.
fn web(delete: bool, extra: &str) -> String {
    format!(
        "    provider: s3\n    account: prod\n    region: {REGION}\n    bucket: {BUCKET}\n    \
         delete: {delete}\n    cache-control: {{ \"*.html\": \"no-cache\", \"assets/**\": \
         \"max-age=31536000, immutable\" }}\n{extra}"
    )
}

/// An engine hosting the pipeline that packages `site/` and syncs it to
/// `web`.
fn project(aws: Aws, environment: &str) -> Project {
    aws.project(&pipeline("web", environment, "site", &["true"]), &[])
}

fn create_bucket(aws: &Aws) {
    aws.cli(
        "s3api",
        &[
            "create-bucket",
            "--bucket",
            BUCKET,
            "--create-bucket-configuration",
            &format!("LocationConstraint={REGION}"),
        ],
    );
}

/// One object as the bucket serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Served {
    body: String,
    content_type: String,
    cache_control: Option<String>,
}

/// What a release's files should become: key → body (the `site/` folder
/// is the artifact's root).
fn site(files: &[&[(&str, &str)]], removed: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for set in files {
        for (path, body) in *set {
            out.insert(
                path.trim_start_matches("site/").to_string(),
                body.to_string(),
            );
        }
    }
    for r in removed {
        out.remove(*r);
    }
    out
}

/// Every object in the bucket, read back with the AWS CLI.
fn bucket(aws: &Aws) -> BTreeMap<String, Served> {
    let list = aws.cli("s3api", &["list-objects-v2", "--bucket", BUCKET]);
    let dir = tempfile::tempdir().unwrap();
    let mut out = BTreeMap::new();
    for o in list["Contents"].as_array().cloned().unwrap_or_default() {
        let key = o["Key"].as_str().unwrap().to_string();
        let file = dir.path().join("body");
        let got = aws.cli(
            "s3api",
            &[
                "get-object",
                "--bucket",
                BUCKET,
                "--key",
                &key,
                file.to_str().unwrap(),
            ],
        );
        out.insert(
            key,
            Served {
                body: std::fs::read_to_string(&file).unwrap(),
                content_type: got["ContentType"].as_str().unwrap_or_default().into(),
                cache_control: got["CacheControl"].as_str().map(str::to_string),
            },
        );
    }
    out
}

/// The bodies of [`bucket`].
fn bodies(served: &BTreeMap<String, Served>) -> BTreeMap<String, String> {
    served
        .iter()
        .map(|(k, s)| (k.clone(), s.body.clone()))
        .collect()
}

/// Writes an object with the AWS CLI, `args` (headers, metadata) added.
fn put_object(aws: &Aws, key: &str, body: &str, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body");
    std::fs::write(&file, body).unwrap();
    let mut all = vec![
        "put-object",
        "--bucket",
        BUCKET,
        "--key",
        key,
        "--body",
        file.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    aws.cli("s3api", &all);
}

/// `body`'s SHA-256, hex, by coreutils' `sha256sum`.
fn sha256(body: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body");
    std::fs::write(&file, body).unwrap();
    let out = std::process::Command::new("sha256sum")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// `(event, status)` of a deployment's lifecycle events, in order.
fn events(detail: &serde_json::Value) -> Vec<(String, String)> {
    detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The keys the deployment's log says went up, in the order they did.
fn puts_in_log(detail: &serde_json::Value) -> Vec<String> {
    let log = std::fs::read_to_string(detail["log"].as_str().unwrap()).unwrap();
    log.lines()
        .filter_map(|l| l.split_once("] put ").map(|(_, rest)| rest))
        .map(|rest| rest.split(" (").next().unwrap().to_string())
        .collect()
}

fn succeeded(project: &Project) -> Vec<serde_json::Value> {
    let history = project.history("web");
    let rows = history.as_array().unwrap().clone();
    assert!(
        rows.iter().all(|d| d["status"] == "Succeeded"),
        "{history:#}"
    );
    rows
}

#[test]
fn a_release_leaves_exactly_its_files_in_the_bucket_with_their_types_and_cache_headers() {
    let aws = Aws::start();
    create_bucket(&aws);
    // Left by hand before Slipway managed the site: `delete: true` removes it.
    put_object(&aws, "stale.txt", "from the old site", &[]);
    // Written by an earlier Slipway whose records are gone: its metadata
    // says it is v1's file with v1's headers, so it stays as it is.
    let css = "h1 { color: navy }";
    put_object(
        &aws,
        "assets/app.css",
        css,
        &[
            "--content-type",
            "text/css; charset=utf-8",
            "--cache-control",
            "max-age=31536000, immutable",
            "--metadata",
            &format!("sha256={}", sha256(css)),
        ],
    );
    let css_before = aws.cli(
        "s3api",
        &["head-object", "--bucket", BUCKET, "--key", "assets/app.css"],
    );
    let project = project(aws, &web(true, ""));

    assert!(project.release("v1", V1));
    let served = bucket(&project.aws);
    assert_eq!(bodies(&served), site(&[V1], &[]));
    let header = |key: &str| {
        let s = &served[key];
        (s.content_type.as_str(), s.cache_control.as_deref())
    };
    assert_eq!(
        header("index.html"),
        ("text/html; charset=utf-8", Some("no-cache"))
    );
    assert_eq!(
        header("assets/app.css"),
        (
            "text/css; charset=utf-8",
            Some("max-age=31536000, immutable")
        )
    );
    assert_eq!(
        header("assets/app.js"),
        (
            "text/javascript; charset=utf-8",
            Some("max-age=31536000, immutable")
        )
    );
    assert_eq!(
        header("assets/logo.png"),
        ("image/png", Some("max-age=31536000, immutable"))
    );
    let v1 = &succeeded(&project)[0];
    assert_eq!(v1["strategy"], "sync");
    let detail = project.deployment(v1["id"].as_str().unwrap());
    let ev = events(&detail);
    for want in [
        "Compare 6 files with 2 objects",
        "Upload 5 objects",
        "Delete 1 object",
    ] {
        assert!(
            ev.contains(&(want.to_string(), "Succeeded".to_string())),
            "{want}: {ev:?}"
        );
    }
    // Pages go up after every asset: the log lists each upload as it ends.
    let order = puts_in_log(&detail);
    assert_eq!(order.len(), 5, "{order:?}");
    assert!(!order.contains(&"assets/app.css".to_string()), "{order:?}");
    let first_page = order.iter().position(|k| k.ends_with(".html")).unwrap();
    assert!(
        order[first_page..].iter().all(|k| k.ends_with(".html")),
        "{order:?}"
    );
    assert_eq!(strings(&detail["record"]["removed"]), ["stale.txt"]);

    std::fs::remove_file(project.repo.path.join("site/about.html")).unwrap();
    assert!(project.release("v2", V2));
    let served = bucket(&project.aws);
    assert_eq!(bodies(&served), site(&[V1, V2], &["about.html"]));
    assert_eq!(
        served["assets/extra.js"].content_type,
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        served["assets/hello world.txt"].content_type,
        "text/plain; charset=utf-8"
    );
    assert_eq!(
        served["index.html"].cache_control.as_deref(),
        Some("no-cache")
    );

    // Only what changed went up; what the revision lacks went away.
    let history = succeeded(&project);
    let v2 = project.deployment(history[0]["id"].as_str().unwrap());
    assert_eq!(
        strings(&v2["record"]["changed"]),
        ["assets/extra.js", "assets/hello world.txt", "index.html"]
    );
    assert_eq!(strings(&v2["record"]["removed"]), ["about.html"]);
    assert_eq!(v2["record"]["objects"].as_array().unwrap().len(), 6);
    let ev = events(&v2);
    assert!(
        ev.contains(&("Upload 3 objects".into(), "Succeeded".into()))
            && ev.contains(&("Delete 1 object".into(), "Succeeded".into())),
        "{ev:?}"
    );
    // Assets go up together, in any order; the page after them.
    let mut order = puts_in_log(&v2);
    assert_eq!(order.pop().as_deref(), Some("index.html"));
    order.sort();
    assert_eq!(order, ["assets/extra.js", "assets/hello world.txt"]);
    let css_after = project.aws.cli(
        "s3api",
        &["head-object", "--bucket", BUCKET, "--key", "assets/app.css"],
    );
    assert_eq!(css_after["LastModified"], css_before["LastModified"]);

    // What serves now, read from the bucket.
    let serving = &history[0]["serving"];
    let short = &history[0]["revision"].as_str().unwrap()[..7];
    assert_eq!(
        serving["summary"],
        format!("{BUCKET}: 6 objects, revision {short}"),
        "{serving:#}"
    );
    let fact = |label: &str| {
        serving["facts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["label"] == label)
            .map(|f| f["value"].as_str().unwrap().to_string())
    };
    assert_eq!(fact("matches the revision").as_deref(), Some("yes"));

    // Someone changes an object by hand: the environment says so.
    put_object(&project.aws, "index.html", "<h1>hot fix</h1>", &[]);
    let history = project.history("web");
    let serving = &history[0]["serving"];
    assert_eq!(
        serving["summary"],
        format!("{BUCKET}: 6 objects, revision {short} (1 object differs from it)"),
        "{serving:#}"
    );
}

#[test]
fn with_a_prefix_only_objects_under_it_are_written_and_deleted() {
    let aws = Aws::start();
    create_bucket(&aws);
    put_object(&aws, "preview/old.html", "<h1>old preview</h1>", &[]);
    put_object(&aws, "downloads/app.dmg", "another team's file", &[]);
    let project = project(aws, &web(true, "    prefix: preview\n"));
    assert!(project.release("v1", V1));
    let mut expected: BTreeMap<String, String> = site(&[V1], &[])
        .into_iter()
        .map(|(k, v)| (format!("preview/{k}"), v))
        .collect();
    expected.insert("downloads/app.dmg".into(), "another team's file".into());
    let served = bucket(&project.aws);
    assert_eq!(bodies(&served), expected);
    // Cache-control globs match the path in the artifact, not the key.
    assert_eq!(
        served["preview/assets/app.js"].cache_control.as_deref(),
        Some("max-age=31536000, immutable")
    );
    let history = succeeded(&project);
    let detail = project.deployment(history[0]["id"].as_str().unwrap());
    assert_eq!(detail["record"]["prefix"], "preview/");
    assert_eq!(strings(&detail["record"]["removed"]), ["preview/old.html"]);
    assert_eq!(
        history[0]["serving"]["summary"],
        format!(
            "{BUCKET}/preview/: 6 objects, revision {}",
            &history[0]["revision"].as_str().unwrap()[..7]
        )
    );
}

#[test]
fn a_rollback_restores_exactly_the_previous_revisions_objects() {
    let aws = Aws::start();
    create_bucket(&aws);
    // `delete: false`: v2 leaves about.html; the rollback still removes
    // what v2 added, since the revision it undoes wrote it.
    let project = project(aws, &web(false, ""));
    assert!(project.release("v1", V1));
    let v1_bucket = bucket(&project.aws);
    assert_eq!(bodies(&v1_bucket), site(&[V1], &[]));
    std::fs::remove_file(project.repo.path.join("site/about.html")).unwrap();
    assert!(project.release("v2", V2));
    assert_eq!(bodies(&bucket(&project.aws)), site(&[V1, V2], &[]));
    let history = succeeded(&project);
    let (v2_id, v1_id) = (
        history[0]["id"].as_str().unwrap().to_string(),
        history[1]["id"].as_str().unwrap().to_string(),
    );

    let out = project
        .world()
        .run(&["rollback", "web", "--wait", "--json"]);
    assert!(
        out.status.success(),
        "rollback: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let rollback: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rollback["status"], "Succeeded", "{rollback:#}");
    assert_eq!(rollback["initiator"], "user");
    assert_eq!(rollback["rollback_of"], v2_id.as_str());
    assert_eq!(rollback["revision"], history[1]["revision"]);

    // Exactly v1's objects, bodies and headers.
    assert_eq!(bucket(&project.aws), v1_bucket);
    let detail = project.deployment(rollback["id"].as_str().unwrap());
    assert_eq!(
        strings(&detail["record"]["changed"]),
        ["assets/hello world.txt", "index.html"]
    );
    assert_eq!(strings(&detail["record"]["removed"]), ["assets/extra.js"]);
    let history = succeeded(&project);
    assert_eq!(history[0]["id"], rollback["id"]);
    assert_eq!(history[2]["id"], v1_id.as_str());
}

#[test]
fn an_alarm_during_the_bake_rolls_the_bucket_back_to_the_previous_revision() {
    let aws = Aws::start();
    create_bucket(&aws);
    // The alarm command runs in the revision's files: v2 ships the file
    // that rings it.
    let project = project(
        aws,
        &web(
            true,
            "    bake: 3s\n    alarms:\n      - command: \"test ! -e alarm\"\n    \
             auto-rollback: [alarm]\n",
        ),
    );
    assert!(project.release("v1", V1));
    let v1_bucket = bucket(&project.aws);
    assert_eq!(bodies(&v1_bucket), site(&[V1], &[]));
    let v1 = project.deployment(succeeded(&project)[0]["id"].as_str().unwrap());
    assert!(
        events(&v1).contains(&("Bake 3s".into(), "Succeeded".into())),
        "{:?}",
        events(&v1)
    );

    let mut v2 = V2.to_vec();
    v2.push(("site/alarm", "ringing"));
    assert!(!project.release("v2", &v2), "the alarm fails the release");
    let history = project.history("web");
    assert_eq!(history[0]["initiator"], "auto-rollback", "{history:#}");
    assert_eq!(history[0]["status"], "Succeeded", "{history:#}");
    assert_eq!(history[1]["status"], "RolledBack", "{history:#}");
    assert_eq!(history[0]["rollback_of"], history[1]["id"]);
    let failed = project.deployment(history[1]["id"].as_str().unwrap());
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("alarm: `test ! -e alarm`"), "{error}");
    assert!(
        events(&failed).contains(&("Bake 3s".into(), "Failed".into())),
        "{:?}",
        events(&failed)
    );
    // The bucket is v1's again, alarm file and all of v2 gone.
    assert_eq!(bucket(&project.aws), v1_bucket);
}

#[test]
fn with_invalidate_cloudfront_drops_the_changed_and_removed_paths() {
    let aws = Aws::start();
    create_bucket(&aws);
    let created = aws.cli(
        "cloudfront",
        &[
            "create-distribution",
            "--origin-domain-name",
            &format!("{BUCKET}.s3.amazonaws.com"),
            "--default-root-object",
            "index.html",
        ],
    );
    let distribution = created["Distribution"]["Id"].as_str().unwrap().to_string();
    let project = project(
        aws,
        &web(true, &format!("    invalidate: {distribution}\n")),
    );

    assert!(project.release("v1", V1));
    std::fs::remove_file(project.repo.path.join("site/about.html")).unwrap();
    assert!(project.release("v2", V2));
    let history = succeeded(&project);
    let v2 = project.deployment(history[0]["id"].as_str().unwrap());
    let recorded = &v2["record"]["invalidation"];
    assert_eq!(recorded["distribution"], distribution.as_str());
    let expected = [
        "/",
        "/about.html",
        "/assets/extra.js",
        "/assets/hello%20world.txt",
        "/index.html",
    ];
    assert_eq!(strings(&recorded["paths"]), expected);
    assert!(
        events(&v2).contains(&("Invalidate 5 paths".into(), "Succeeded".into())),
        "{:?}",
        events(&v2)
    );

    // CloudFront has it, with those paths.
    let id = recorded["id"].as_str().unwrap();
    let got = project.aws.cli(
        "cloudfront",
        &[
            "get-invalidation",
            "--distribution-id",
            &distribution,
            "--id",
            id,
        ],
    );
    let mut paths = strings(&got["Invalidation"]["InvalidationBatch"]["Paths"]["Items"]);
    paths.sort();
    assert_eq!(paths, expected);
    let list = project.aws.cli(
        "cloudfront",
        &["list-invalidations", "--distribution-id", &distribution],
    );
    // One per release (v1's made every path new); moto gives no Quantity.
    let ids: Vec<&str> = list["InvalidationList"]["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{list:#}");
    assert!(ids.contains(&id), "{list:#}");
}

#[test]
fn a_missing_bucket_fails_the_deployment_with_aws_error_and_no_secret() {
    let aws = Aws::start();
    let project = project(aws, &web(true, ""));
    project.repo.commit(V1, "v1");
    let out = project.world().run(&["run", "shop/rel", "--wait"]);
    assert!(!out.status.success(), "the release fails");
    let run_output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let history = project.history("web");
    let newest = &history[0];
    assert_eq!(newest["status"], "Failed", "{history:#}");
    let detail = project.deployment(newest["id"].as_str().unwrap());
    let error = detail["error"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "cannot list s3://{BUCKET}/ (profile `prod`, {REGION})"
        )) && error.contains("ListObjectsV2 failed: NoSuchBucket: "),
        "{error}"
    );
    assert!(
        events(&detail).contains(&("Compare files with the bucket".into(), "Failed".into())),
        "{detail:#}"
    );
    // What serves cannot be read either, and says why.
    let listing = project.world().run(&["deployments", "web"]);
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    assert!(
        listing.contains("Serving now: cannot be read: cannot list s3://www.example.com/")
            && listing.contains("NoSuchBucket"),
        "{listing}"
    );

    // The long-term secret is nowhere: not in what was printed, the
    // records, the log, nor any file under the data directory.
    let log = std::fs::read_to_string(detail["log"].as_str().unwrap()).unwrap();
    project.assert_secrets_absent(
        &[LONG_TERM_SECRET],
        &[run_output, detail.to_string(), log, listing],
    );
}
