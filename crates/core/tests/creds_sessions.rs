//! A release manager's credentials against a real STS (moto) and a real
//! keychain (Secret Service): role chains, MFA, the session cache, what an
//! action receives, import from ~/.aws, and local secrets in builds.
//! Run as `tests/with-keyring.sh cargo test -p slipway-core --test creds_sessions`.

mod creds_support;

use std::collections::BTreeMap;

use creds_support::{account, assume_role_calls, Data, TestClock};
use slipway_core::build::{self, BuildJob, BuildStatus, NoSink, StopSignal};
use slipway_core::creds::{self, CredsError, Profile, SecretString};
use slipway_core::spec::buildspec;

fn keys_profile(data: &Data, name: &str, region: Option<&str>) {
    let p = Profile {
        name: name.into(),
        region: region.map(str::to_string),
        ..Profile::default()
    };
    let keys = creds::keys_from_input("AKIAIOSFODNN7EXAMPLE", format!("{name}-long-term-secret\n"));
    creds::add_keys(&data.store, &p, &keys).unwrap();
}

fn role(data: &Data, name: &str, source: &str, arn: &str, edit: impl FnOnce(&mut Profile)) {
    let mut p = Profile {
        name: name.into(),
        source_profile: Some(source.into()),
        role_arn: Some(arn.into()),
        ..Profile::default()
    };
    edit(&mut p);
    creds::add_role(&data.store, &p).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_hop_chain_acts_in_the_second_roles_account() {
    let data = Data::new();
    let clock = TestClock::new();
    let (a1, a2) = (account(), account());
    let arn1 = format!("arn:aws:iam::{a1}:role/hop-one");
    let arn2 = format!("arn:aws:iam::{a2}:role/deployer");
    keys_profile(&data, "me", Some("eu-central-1"));
    role(&data, "staging", "me", &arn1, |_| {});
    role(&data, "prod", "staging", &arn2, |p| {
        p.external_id = Some("release-42".into());
        p.session_name = Some("alice-release".into());
        p.duration_seconds = Some(1800);
    });

    let id = creds::whoami(&data.store, "prod", &clock, None)
        .await
        .unwrap();
    assert_eq!(id.account, a2);
    assert!(
        id.arn.ends_with("assumed-role/deployer/alice-release"),
        "{}",
        id.arn
    );

    // moto saw both hops, with the ExternalId and session name we asked for.
    assert_eq!(assume_role_calls(&arn1).len(), 1);
    let second = assume_role_calls(&arn2);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["external_id"], "release-42");
    assert_eq!(second[0]["session_name"], "alice-release");
    // A default session name names the user.
    let first = &assume_role_calls(&arn1)[0];
    assert!(first["session_name"]
        .as_str()
        .unwrap()
        .starts_with("slipway-"));
}

#[tokio::test]
async fn a_session_is_reused_until_five_minutes_before_expiry_then_refreshed() {
    let data = Data::new();
    let clock = TestClock::new();
    let arn = format!("arn:aws:iam::{}:role/cached", account());
    keys_profile(&data, "me", None);
    role(&data, "ops", "me", &arn, |p| p.duration_seconds = Some(900));

    let first = creds::session(&data.store, "ops", &clock, None)
        .await
        .unwrap();
    // Reused up to the last millisecond before the 5-minute margin…
    clock.set(first.expiration - creds::REFRESH_MARGIN_MS - 1);
    let again = creds::session(&data.store, "ops", &clock, None)
        .await
        .unwrap();
    assert_eq!(first.access_key_id, again.access_key_id);
    assert_eq!(assume_role_calls(&arn).len(), 1);

    // …and refreshed from it on.
    clock.set(first.expiration - creds::REFRESH_MARGIN_MS);
    let refreshed = creds::session(&data.store, "ops", &clock, None)
        .await
        .unwrap();
    assert_ne!(
        first.session_token.expose(),
        refreshed.session_token.expose()
    );
    assert_eq!(assume_role_calls(&arn).len(), 2);
}

#[tokio::test]
async fn an_action_gets_exactly_its_own_profiles_five_variables() {
    let data = Data::new();
    let clock = TestClock::new();
    keys_profile(&data, "me", Some("ap-southeast-2"));
    let (a1, a2) = (account(), account());
    role(
        &data,
        "blue",
        "me",
        &format!("arn:aws:iam::{a1}:role/blue"),
        |_| {},
    );
    role(
        &data,
        "green",
        "me",
        &format!("arn:aws:iam::{a2}:role/green"),
        |p| p.region = Some("us-west-2".into()),
    );

    let blue = creds::session_env(&data.store, "blue", &clock, None)
        .await
        .unwrap();
    let green = creds::session_env(&data.store, "green", &clock, None)
        .await
        .unwrap();
    let names: Vec<&str> = blue.env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION"
        ]
    );
    let get =
        |env: &[(String, String)], k: &str| env.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(get(&blue.env, "AWS_REGION"), "ap-southeast-2");
    assert_eq!(get(&green.env, "AWS_DEFAULT_REGION"), "us-west-2");
    // Nothing of green's session, and no long-term key, reaches blue.
    for (_, v) in &blue.env {
        assert!(!green.secrets.contains(v));
        assert!(!v.contains("long-term-secret"));
    }
    assert_eq!(blue.secrets.len(), 3);
    assert!(blue.secrets.contains(&get(&blue.env, "AWS_SESSION_TOKEN")));
}

#[tokio::test]
async fn an_mfa_profile_asks_for_a_code_then_uses_its_session() {
    let data = Data::new();
    let clock = TestClock::new();
    let arn = format!("arn:aws:iam::{}:role/admin", account());
    keys_profile(&data, "me", None);
    role(&data, "admin", "me", &arn, |p| {
        p.mfa_serial = Some("arn:aws:iam::123456789012:mfa/alice".into())
    });

    let err = creds::session(&data.store, "admin", &clock, None)
        .await
        .unwrap_err();
    assert!(matches!(err, CredsError::MfaRequired { .. }), "{err}");
    assert!(err.to_string().contains("--mfa-code"), "{err}");
    let err = creds::session(&data.store, "admin", &clock, Some("12ab"))
        .await
        .unwrap_err();
    assert!(matches!(err, CredsError::InvalidMfaCode), "{err}");
    assert!(
        assume_role_calls(&arn).is_empty(),
        "no STS call without a code"
    );

    creds::session(&data.store, "admin", &clock, Some("123456"))
        .await
        .unwrap();
    // Cached: no code needed until it expires.
    creds::session(&data.store, "admin", &clock, None)
        .await
        .unwrap();
    assert_eq!(assume_role_calls(&arn).len(), 1);

    // A user's own keys with MFA go through GetSessionToken.
    let p = Profile {
        name: "mine-mfa".into(),
        mfa_serial: Some("arn:aws:iam::123456789012:mfa/alice".into()),
        ..Profile::default()
    };
    creds::add_keys(
        &data.store,
        &p,
        &creds::keys_from_input("AKIAX", "s".into()),
    )
    .unwrap();
    assert!(creds::session(&data.store, "mine-mfa", &clock, None)
        .await
        .is_err());
    let s = creds::session(&data.store, "mine-mfa", &clock, Some("654321"))
        .await
        .unwrap();
    assert!(!s.session_token.expose().is_empty());
}

#[tokio::test]
async fn profiles_are_validated_and_removal_respects_chains() {
    let data = Data::new();
    keys_profile(&data, "root", None);
    let bad = Profile {
        name: "x".into(),
        source_profile: Some("root".into()),
        role_arn: Some("arn:aws:s3:::bucket".into()),
        ..Profile::default()
    };
    assert!(matches!(
        creds::add_role(&data.store, &bad),
        Err(CredsError::InvalidProfile { .. })
    ));
    let orphan = Profile {
        name: "orphan".into(),
        source_profile: Some("nobody".into()),
        role_arn: Some("arn:aws:iam::111111111111:role/r".into()),
        ..Profile::default()
    };
    assert!(matches!(
        creds::add_role(&data.store, &orphan),
        Err(CredsError::UnknownProfile(_))
    ));
    role(
        &data,
        "child",
        "root",
        "arn:aws:iam::111111111111:role/r",
        |_| {},
    );
    assert!(matches!(
        creds::remove(&data.store, "root"),
        Err(CredsError::ProfileInUse { .. })
    ));
    creds::remove(&data.store, "child").unwrap();
    creds::remove(&data.store, "root").unwrap();
    assert!(data.store.profiles().unwrap().is_empty());
    // Its keys left the keychain: re-adding the name starts clean.
    keys_profile(&data, "root", None);
    creds::remove(&data.store, "root").unwrap();
}

#[tokio::test]
async fn import_reads_aws_files_without_changing_them() {
    let data = Data::new();
    let clock = TestClock::new();
    let a = account();
    let dir = data.dir.path();
    let config = dir.join("config");
    let credentials = dir.join("credentials");
    let config_text = format!(
        "[default]\nregion = eu-west-1\n\n[profile deploy]\nrole_arn = arn:aws:iam::{a}:role/deploy\n\
         source_profile = hop\nexternal_id = ext-1\nduration_seconds = 1200\nrole_session_name = bob\n\n\
         [profile hop]\nrole_arn = arn:aws:iam::{a}:role/hop\nsource_profile = default\n\
         mfa_serial = arn:aws:iam::{a}:mfa/bob\n\n[profile sso]\nsso_start_url = https://x\n"
    );
    let creds_text = "[default]\naws_access_key_id = AKIAIMPORTED\n\
                      aws_secret_access_key = imported/secret+KEY\n\n[temp]\n\
                      aws_access_key_id = ASIA1\naws_secret_access_key = x\naws_session_token = y\n";
    std::fs::write(&config, &config_text).unwrap();
    std::fs::write(&credentials, creds_text).unwrap();

    let report = creds::import(&data.store, Some(&config), Some(&credentials), 1).unwrap();
    let imported: Vec<(&str, &str)> = report
        .imported
        .iter()
        .map(|i| (i.name.as_str(), i.kind.as_str()))
        .collect();
    assert_eq!(
        imported,
        [("default", "keys"), ("hop", "role"), ("deploy", "role")]
    );
    let skipped: Vec<&str> = report.skipped.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(skipped, ["sso", "temp"]);
    assert!(!format!("{report:?}").contains("imported/secret"));

    let deploy = data.store.profile("deploy").unwrap().unwrap();
    assert_eq!(deploy.external_id.as_deref(), Some("ext-1"));
    assert_eq!(deploy.duration_seconds, Some(1200));
    assert_eq!(deploy.session_name.as_deref(), Some("bob"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), config_text);
    assert_eq!(std::fs::read_to_string(&credentials).unwrap(), creds_text);

    let id = creds::whoami(&data.store, "deploy", &clock, Some("000000"))
        .await
        .unwrap();
    assert_eq!(id.account, a);
    // Importing again changes nothing and says why.
    let again = creds::import(&data.store, Some(&config), Some(&credentials), 2).unwrap();
    assert!(again.imported.is_empty());
}

fn build_job(ws: &tempfile::TempDir, yaml: &str) -> BuildJob {
    let spec = buildspec::parse(yaml, "buildspec.yml").unwrap();
    let src = ws.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    BuildJob::new(
        spec,
        src,
        ws.path().join("data"),
        ws.path().join("build.log"),
    )
}

const SECRET_BUILDSPEC: &str =
    "version: 0.2\nenv:\n  parameter-store:\n    DB_PASSWORD: /prod/db/password\n  \
     secrets-manager:\n    API_TOKEN: prod/api:token\nphases:\n  build:\n    commands:\n      \
     - echo \"db=$DB_PASSWORD api=$API_TOKEN\"\n      - touch ran\n";

#[tokio::test]
async fn buildspec_secret_references_resolve_to_local_secrets_and_are_masked() {
    let data = Data::new();
    let value = |s: &str| SecretString::new(s.into());
    creds::set_secret(&data.store, "/prod/db/password", &value("pw-8f3k2"), 1).unwrap();
    creds::set_secret(
        &data.store,
        "prod/api",
        &value(r#"{"token":"tok-77ab"}"#),
        1,
    )
    .unwrap();
    let names: Vec<String> = creds::secret_names(&data.store)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["/prod/db/password", "prod/api"]);

    let ws = tempfile::tempdir().unwrap();
    let local = creds::local_secrets(&data.store).unwrap();
    let job = build_job(&ws, SECRET_BUILDSPEC).with_local_secrets(local);
    let outcome = build::run(job, StopSignal::never(), NoSink).await;
    assert_eq!(
        outcome.status,
        BuildStatus::Succeeded,
        "{:?}",
        outcome.error
    );
    let log = std::fs::read_to_string(ws.path().join("build.log")).unwrap();
    assert!(log.contains("db=*** api=***"), "{log}");
    assert!(!log.contains("pw-8f3k2") && !log.contains("tok-77ab"));

    // A reference with no local secret fails before any command runs.
    creds::remove_secret(&data.store, "prod/api").unwrap();
    let ws = tempfile::tempdir().unwrap();
    let local = creds::local_secrets(&data.store).unwrap();
    let job = build_job(&ws, SECRET_BUILDSPEC).with_local_secrets(local);
    let outcome = build::run(job, StopSignal::never(), NoSink).await;
    assert_eq!(outcome.status, BuildStatus::Failed);
    let error = outcome.error.unwrap();
    assert!(error.contains("slipway secret set prod/api"), "{error}");
    assert!(!ws.path().join("src/ran").exists());
    let empty: BTreeMap<String, String> = BTreeMap::new();
    assert!(
        matches!(
            creds::remove_secret(&data.store, "prod/api"),
            Err(CredsError::UnknownSecret(_))
        ) && empty.is_empty()
    );
}
