//! The Accounts page's commands against a real keychain (Secret Service)
//! and a real STS (moto): the list shows chains, accounts and session
//! expiries and never a secret; Verify asks STS; remove says what blocks it.
//! Run as `tests/with-keyring.sh cargo test -p slipway-core --test api_accounts`.

mod creds_support;

use std::sync::Arc;

use creds_support::{account, Data};
use slipway_core::api::{Core, ErrorCode, Host, ProfilesResponse, SystemClock};
use slipway_core::creds::{self, Profile};

/// The `profiles` response, checked to hold no secret.
async fn list(core: &Core) -> ProfilesResponse {
    let json = core.call("profiles", serde_json::json!({})).await.unwrap();
    let text = json.to_string();
    assert!(
        !text.contains("top-secret"),
        "a secret reached the UI: {text}"
    );
    serde_json::from_value(json).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accounts_page_shows_chains_and_expiries_but_never_a_secret() {
    let data = Data::new();
    let core = Core::open(data.dir.path(), Host::Cli, Arc::new(SystemClock)).unwrap();
    let prod_account = account();
    let me = Profile {
        name: "me".into(),
        region: Some("eu-west-1".into()),
        ..Profile::default()
    };
    let keys = creds::keys_from_input("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI-top-secret\n".into());
    creds::add_keys(&data.store, &me, &keys).unwrap();
    creds::add_role(
        &data.store,
        &Profile {
            name: "prod".into(),
            source_profile: Some("me".into()),
            role_arn: Some(format!("arn:aws:iam::{prod_account}:role/deployer")),
            ..Profile::default()
        },
    )
    .unwrap();

    let before = list(&core).await;
    assert_eq!(before.keychain_error, None);
    let prod = before.profiles.iter().find(|p| p.name == "prod").unwrap();
    assert_eq!(prod.chain, ["prod", "me"]);
    assert_eq!(prod.account.as_deref(), Some(prod_account.as_str()));
    assert_eq!(prod.kind, "role");
    assert_eq!(prod.session_expires_at, None, "no session yet");

    // Verify: STS says who the session is, and the session is now cached.
    let id = core
        .call("profile_verify", serde_json::json!({"name": "prod"}))
        .await
        .unwrap();
    assert_eq!(id["account"], prod_account.as_str());
    assert!(!id.to_string().contains("top-secret"));
    let after = list(&core).await;
    let prod = after.profiles.iter().find(|p| p.name == "prod").unwrap();
    assert!(
        prod.session_expires_at.is_some(),
        "the cached session's expiry shows"
    );

    // The source of a role cannot go first; the message says what to do.
    let err = core
        .call("profile_remove", serde_json::json!({"name": "me"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("prod"), "{}", err.message);
    core.call("profile_remove", serde_json::json!({"name": "prod"}))
        .await
        .unwrap();
    let left = list(&core).await;
    assert_eq!(
        left.profiles
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["me"]
    );

    let err = core
        .call("profile_verify", serde_json::json!({"name": "nobody"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mfa_profile_asks_for_its_code_with_a_code_the_ui_can_branch_on() {
    let data = Data::new();
    let core = Core::open(data.dir.path(), Host::Cli, Arc::new(SystemClock)).unwrap();
    let me = Profile {
        name: "me".into(),
        ..Profile::default()
    };
    let keys = creds::keys_from_input("AKIAIOSFODNN7EXAMPLE", "secret\n".into());
    creds::add_keys(&data.store, &me, &keys).unwrap();
    creds::add_role(
        &data.store,
        &Profile {
            name: "guarded".into(),
            source_profile: Some("me".into()),
            role_arn: Some(format!("arn:aws:iam::{}:role/admin", account())),
            mfa_serial: Some("arn:aws:iam::123456789012:mfa/me".into()),
            ..Profile::default()
        },
    )
    .unwrap();
    let err = core
        .call("profile_verify", serde_json::json!({"name": "guarded"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::MfaRequired);
    let id = core
        .call(
            "profile_verify",
            serde_json::json!({"name": "guarded", "mfa_code": "123456"}),
        )
        .await
        .unwrap();
    assert_eq!(id["name"], "guarded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_added_from_the_ui_keep_their_secret_in_the_keychain_only() {
    let data = Data::new();
    let core = Core::open(data.dir.path(), Host::Cli, Arc::new(SystemClock)).unwrap();
    let added = core
        .call(
            "profile_add",
            serde_json::json!({
                "name": "me",
                "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "secret_access_key": "wJalrXUtnFEMI-top-secret",
                "region": "eu-west-1"
            }),
        )
        .await
        .unwrap();
    assert_eq!(added, serde_json::json!({"name": "me"}));
    let role = core
        .call(
            "profile_add",
            serde_json::json!({
                "name": "prod",
                "source_profile": "me",
                "role_arn": format!("arn:aws:iam::{}:role/deployer", account())
            }),
        )
        .await
        .unwrap();
    assert_eq!(role["name"], "prod");
    let listed = list(&core).await;
    let names: Vec<&str> = listed.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // Keys without their secret are refused, with what to give.
    let err = core
        .call(
            "profile_add",
            serde_json::json!({"name": "half", "access_key_id": "AKIAIOSFODNN7EXAMPLE"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("secret access key"), "{}", err.message);
    // The database (and its write-ahead log) holds no secret.
    for file in ["slipway.db", "slipway.db-wal"] {
        let bytes = std::fs::read(data.dir.path().join(file)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("top-secret"),
            "{file}"
        );
    }
}
