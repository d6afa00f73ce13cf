//! Twenty parallel actions needing the same profile make one AssumeRole
//! call: counted by moto and at Slipway's own STS boundary. Alone in its
//! test binary so the process-wide counter sees only this test.

mod creds_support;

use std::sync::Arc;
use std::time::Instant;

use creds_support::{account, assume_role_calls, Data, TestClock};
use slipway_core::creds::{self, Profile};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_actions_on_one_profile_make_one_assume_role_call() {
    let data = Arc::new(Data::new());
    let clock = Arc::new(TestClock::new());
    let arn = format!("arn:aws:iam::{}:role/parallel", account());
    let me = Profile {
        name: "me".into(),
        ..Profile::default()
    };
    creds::add_keys(
        &data.store,
        &me,
        &creds::keys_from_input("AKIAX", "sec".into()),
    )
    .unwrap();
    let role = Profile {
        name: "deploy".into(),
        source_profile: Some("me".into()),
        role_arn: Some(arn.clone()),
        ..Profile::default()
    };
    creds::add_role(&data.store, &role).unwrap();

    let before = creds::sts_requests_sent();
    let started = Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (data, clock) = (data.clone(), clock.clone());
            tokio::spawn(async move {
                creds::session_env(&data.store, "deploy", clock.as_ref(), None)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(t.await.unwrap().env[0].1.clone());
    }
    let cold = started.elapsed();
    assert_eq!(
        creds::sts_requests_sent() - before,
        1,
        "one STS request in all"
    );
    assert_eq!(assume_role_calls(&arn).len(), 1, "moto saw one AssumeRole");
    assert!(keys.iter().all(|k| k == &keys[0]), "all share one session");

    // Measured for BENCHMARKS.md: a cache hit against a fresh STS call.
    let hit_started = Instant::now();
    for _ in 0..20 {
        creds::session_env(&data.store, "deploy", clock.as_ref(), None)
            .await
            .unwrap();
    }
    let hit = hit_started.elapsed() / 20;
    // Two hours on, the cached session is stale: one refresh, one call.
    clock.advance(2 * 3_600_000);
    let refresh_started = Instant::now();
    creds::session_env(&data.store, "deploy", clock.as_ref(), None)
        .await
        .unwrap();
    let refresh = refresh_started.elapsed();
    assert_eq!(assume_role_calls(&arn).len(), 2);
    eprintln!(
        "single-flight: 20 cold callers {cold:?}; cache hit {hit:?}/call; \
         refresh (AssumeRole + keychain write) {refresh:?}; ratio {:.1}",
        refresh.as_secs_f64() / hit.as_secs_f64()
    );
}
