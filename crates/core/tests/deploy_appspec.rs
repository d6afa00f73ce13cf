//! Installing a revision into a local instance the CodeDeploy way: files
//! re-rooted inside the instance with `file_exists_behavior` honoured, and
//! lifecycle hooks run in order with CodeDeploy's environment, the previous
//! revision's ApplicationStop, and their timeouts. Real files, real
//! processes.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use slipway_core::deploy::appspec_run::{
    install_files, reroot, run_events, AppspecRunError, EventOutcome, EventStatus, HookContext,
    Revision,
};
use slipway_core::spec::appspec::{lifecycle, ComputePlatform, DeploymentType};

/// A revision directory with the given files (path, contents).
fn revision(parent: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = parent.join(name);
    for (path, text) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    root
}

const WEB_APPSPEC: &str = "\
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/app
  - source: config/app.conf
    destination: /etc/myapp
file_exists_behavior: BEHAVIOR
permissions:
  - object: /var/www/app
    pattern: \"*.sh\"
    mode: 750
    owner: www-data
";

fn web_revision(parent: &Path, behavior: &str, version: &str) -> Revision {
    let root = revision(
        parent,
        &format!("rev-{version}-{behavior}"),
        &[
            ("appspec.yml", &WEB_APPSPEC.replace("BEHAVIOR", behavior)),
            ("app/index.html", version),
            ("app/bin/start.sh", "echo start"),
            ("config/app.conf", &format!("version={version}")),
        ],
    );
    Revision::open(&root).unwrap()
}

#[test]
fn files_are_copied_with_absolute_destinations_re_rooted_inside_the_instance() {
    let tmp = tempfile::tempdir().unwrap();
    let instance = tmp.path().join("instance");
    let rev = web_revision(tmp.path(), "DISALLOW", "v1");
    let report = install_files(&rev, &instance).unwrap();
    let root = instance.join("root");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    assert_eq!(read("var/www/app/index.html"), "v1");
    assert_eq!(read("var/www/app/bin/start.sh"), "echo start");
    assert_eq!(read("etc/myapp/app.conf"), "version=v1");
    assert_eq!(report.installed.len(), 3);
    assert!(report.installed.iter().all(|p| p.starts_with(&root)));

    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| {
        std::fs::metadata(root.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(
        mode("var/www/app/bin/start.sh"),
        0o750,
        "mode applied to *.sh"
    );
    assert_ne!(mode("var/www/app/index.html"), 0o750, "pattern respected");
    assert!(
        report.notes.iter().any(|n| n.contains("owner")),
        "owner cannot be applied without root, and the report says so: {:?}",
        report.notes
    );

    // A redeployment replaces its own predecessor's files even under
    // DISALLOW, as the agent's clean-up list makes it.
    let v2 = web_revision(tmp.path(), "DISALLOW", "v2");
    install_files(&v2, &instance).unwrap();
    assert_eq!(read("var/www/app/index.html"), "v2");
}

#[test]
fn a_file_the_deployment_did_not_put_there_is_handled_by_file_exists_behavior() {
    let tmp = tempfile::tempdir().unwrap();
    let foreign = |instance: &Path| {
        let conf = instance.join("root/etc/myapp/app.conf");
        std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
        std::fs::write(&conf, "hand-edited").unwrap();
        conf
    };

    let disallow = tmp.path().join("disallow");
    let conf = foreign(&disallow);
    let err = install_files(&web_revision(tmp.path(), "DISALLOW", "v1"), &disallow).unwrap_err();
    assert!(matches!(&err, AppspecRunError::FileExists { path } if *path == conf));
    assert!(err.to_string().contains("app.conf"), "{err}");
    assert!(
        !disallow.join("root/var/www").exists(),
        "nothing is installed when a conflict is found"
    );

    let overwrite = tmp.path().join("overwrite");
    let conf = foreign(&overwrite);
    install_files(&web_revision(tmp.path(), "OVERWRITE", "v1"), &overwrite).unwrap();
    assert_eq!(std::fs::read_to_string(conf).unwrap(), "version=v1");

    let retain = tmp.path().join("retain");
    let conf = foreign(&retain);
    let report = install_files(&web_revision(tmp.path(), "RETAIN", "v1"), &retain).unwrap();
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "hand-edited");
    assert_eq!(report.retained, vec![conf]);
    assert!(retain.join("root/var/www/app/index.html").is_file());
}

#[test]
fn a_destination_escaping_the_instance_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let instance = tmp.path().join("instance");
    assert!(matches!(
        reroot(&instance, "/var/../../../etc"),
        Err(AppspecRunError::DestinationEscapes { .. })
    ));
    assert!(reroot(&instance, "relative/path").is_err());
    assert_eq!(
        reroot(&instance, "/var/www").unwrap(),
        instance.join("root/var/www")
    );

    let root = revision(
        tmp.path(),
        "escaping",
        &[
            (
                "appspec.yml",
                "version: 0.0\nos: linux\nfiles:\n  - source: a.txt\n    destination: /../../outside\n",
            ),
            ("a.txt", "x"),
        ],
    );
    let err = install_files(&Revision::open(&root).unwrap(), &instance).unwrap_err();
    assert!(matches!(err, AppspecRunError::DestinationEscapes { .. }));
    assert!(err.to_string().contains(".."), "{err}");
    assert!(!tmp.path().join("outside").exists());
}

#[test]
fn a_revision_without_appspec_is_its_own_app_directory_and_a_broken_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = revision(tmp.path(), "plain", &[("server.py", "print()")]);
    let rev = Revision::open(&plain).unwrap();
    assert!(rev.appspec.is_none());
    assert_eq!(
        install_files(&rev, &tmp.path().join("i")).unwrap(),
        Default::default()
    );

    let broken = revision(tmp.path(), "broken", &[("appspec.yaml", "version: 0.0\n")]);
    let err = Revision::open(&broken).unwrap_err();
    assert!(matches!(err, AppspecRunError::InvalidAppspec { .. }));
    assert!(err.to_string().contains("appspec.yaml"), "{err}");
}

/// A hook that records who called it, and with what, into `$RECORD`.
const RECORD: &str = "echo \"$LIFECYCLE_EVENT $WHO $DEPLOYMENT_ID $APPLICATION_NAME \
$DEPLOYMENT_GROUP_NAME $DEPLOYMENT_GROUP_ID $PORT\" >> \"$RECORD\"; echo \"said by $WHO\"\n";

fn hooked_revision(parent: &Path, version: &str, stop_script: &str) -> Revision {
    let appspec = "version: 0.0\nos: linux\nhooks:\n  ApplicationStop:\n    - location: hooks/stop.sh\n  \
BeforeInstall:\n    - location: hooks/record.sh\n  AfterInstall:\n    - location: hooks/record.sh\n  \
ApplicationStart:\n    - location: hooks/start.sh\n  ValidateService:\n    - location: hooks/record.sh\n";
    let root = revision(
        parent,
        version,
        &[
            ("appspec.yml", appspec),
            ("hooks/record.sh", &format!("WHO={version}\n{RECORD}")),
            (
                "hooks/stop.sh",
                &format!("WHO={version}\n{RECORD}{stop_script}"),
            ),
            (
                "hooks/start.sh",
                &format!("#!/bin/sh\nWHO={version}\n{RECORD}"),
            ),
        ],
    );
    // ApplicationStart's script is executable: run directly, not with sh.
    use std::os::unix::fs::PermissionsExt;
    let start = root.join("hooks/start.sh");
    std::fs::set_permissions(&start, std::fs::Permissions::from_mode(0o755)).unwrap();
    Revision::open(&root).unwrap()
}

fn context(dir: &Path, ignore_stop_failures: bool) -> HookContext {
    HookContext {
        deployment_id: "d-42".into(),
        application_name: "shop".into(),
        deployment_group_name: "staging".into(),
        deployment_group_id: "g-7".into(),
        port: Some(8123),
        log: dir.join("hooks.log"),
        ignore_application_stop_failures: ignore_stop_failures,
        env: vec![(
            "RECORD".into(),
            dir.join("record.txt").display().to_string(),
        )],
        grace: Some(Duration::from_millis(200)),
        clock: slipway_core::clock::system(),
    }
}

fn statuses(outcomes: &[EventOutcome]) -> Vec<(&str, EventStatus)> {
    outcomes
        .iter()
        .map(|o| (o.event.as_str(), o.status))
        .collect()
}

#[tokio::test]
async fn hooks_run_in_lifecycle_order_with_codedeploy_env_and_the_previous_application_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let v1 = hooked_revision(tmp.path(), "v1", "");
    let v2 = hooked_revision(tmp.path(), "v2", "");
    let ctx = context(tmp.path(), false);
    let order = lifecycle(ComputePlatform::Server, DeploymentType::InPlace);
    let outcomes = run_events(order, &v2, Some(&v1), &ctx).await;

    use EventStatus::*;
    assert_eq!(
        statuses(&outcomes),
        vec![
            ("BeforeBlockTraffic", Skipped),
            ("AfterBlockTraffic", Skipped),
            ("ApplicationStop", Succeeded),
            ("BeforeInstall", Succeeded),
            ("AfterInstall", Succeeded),
            ("ApplicationStart", Succeeded),
            ("ValidateService", Succeeded),
            ("BeforeAllowTraffic", Skipped),
            ("AfterAllowTraffic", Skipped),
        ]
    );
    let record = std::fs::read_to_string(tmp.path().join("record.txt")).unwrap();
    let env = "d-42 shop staging g-7 8123";
    assert_eq!(
        record.lines().collect::<Vec<_>>(),
        vec![
            format!("ApplicationStop v1 {env}"),
            format!("BeforeInstall v2 {env}"),
            format!("AfterInstall v2 {env}"),
            format!("ApplicationStart v2 {env}"),
            format!("ValidateService v2 {env}"),
        ]
    );
    let stop = &outcomes[2];
    assert_eq!(stop.exit_code, Some(0));
    assert!(
        stop.log_excerpt.contains("said by v1"),
        "{}",
        stop.log_excerpt
    );
    assert!(stop.started_at <= stop.ended_at);
    let log = std::fs::read_to_string(tmp.path().join("hooks.log")).unwrap();
    assert!(log.contains("ApplicationStop: hooks/stop.sh"), "{log}");
    assert!(log.contains("=== ValidateService Succeeded"), "{log}");

    // First deployment: no previous revision, so no ApplicationStop.
    let first = run_events(order, &v1, None, &ctx).await;
    let stop = first.iter().find(|o| o.event == "ApplicationStop").unwrap();
    assert_eq!(stop.status, Skipped);
    assert!(stop
        .message
        .as_deref()
        .unwrap()
        .contains("no previous revision"));
}

#[tokio::test]
async fn a_broken_application_stop_fails_the_deployment_unless_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let broken = hooked_revision(tmp.path(), "v1", "exit 7\n");
    let v2 = hooked_revision(tmp.path(), "v2", "");
    let order = lifecycle(ComputePlatform::Server, DeploymentType::BlueGreen);

    let outcomes = run_events(order, &v2, Some(&broken), &context(tmp.path(), false)).await;
    let stop = &outcomes[0];
    assert_eq!(
        (stop.event.as_str(), stop.status),
        ("ApplicationStop", EventStatus::Failed)
    );
    assert_eq!(stop.exit_code, Some(7));
    assert!(stop.fails_deployment());
    assert!(
        outcomes[1..]
            .iter()
            .all(|o| o.status == EventStatus::Skipped),
        "nothing runs after a failure: {:?}",
        statuses(&outcomes)
    );

    let outcomes = run_events(order, &v2, Some(&broken), &context(tmp.path(), true)).await;
    assert!(outcomes[0].failure_ignored && !outcomes[0].fails_deployment());
    let validate = outcomes
        .iter()
        .find(|o| o.event == "ValidateService")
        .unwrap();
    assert_eq!(validate.status, EventStatus::Succeeded);
}

#[tokio::test]
async fn a_hook_that_overruns_its_timeout_fails_and_leaves_no_process() {
    let tmp = tempfile::tempdir().unwrap();
    let root = revision(
        tmp.path(),
        "slow",
        &[
            (
                "appspec.yml",
                "version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: slow.sh\n      timeout: 1\n",
            ),
            ("slow.sh", "sleep 30 &\necho $! > \"$PIDS\"\necho $$ >> \"$PIDS\"\nwait\n"),
        ],
    );
    let rev = Revision::open(&root).unwrap();
    let mut ctx = context(tmp.path(), false);
    let pids = tmp.path().join("pids");
    ctx.env.push(("PIDS".into(), pids.display().to_string()));
    let order = lifecycle(ComputePlatform::Server, DeploymentType::InPlace);
    let outcomes = run_events(order, &rev, None, &ctx).await;
    let slow = outcomes
        .iter()
        .find(|o| o.event == "BeforeInstall")
        .unwrap();
    assert_eq!(slow.status, EventStatus::Failed);
    assert!(
        slow.message.as_deref().unwrap().contains("timeout of 1s"),
        "{slow:?}"
    );
    for pid in std::fs::read_to_string(&pids).unwrap().lines() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z"),
            "left running: {stat}"
        );
    }
}
