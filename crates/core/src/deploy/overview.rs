//! Every environment deployed to, as the Environments page shows it: what
//! it serves, its newest deployment, what "Roll back" restores, and, when
//! this process's engine serves it, what runs there now — or, for an AWS
//! environment, what the account says serves.

use std::time::Duration;

use crate::model::{EnvironmentInfo, ProviderKind, Serving};
use crate::spec::pipeline::{Environment, Provider};
use crate::store::{Deployment, Store, StoreError};

use super::Deployer;

/// How long reading what an AWS environment serves may take.
const SERVING_TIMEOUT: Duration = Duration::from_secs(15);

/// What `spec`'s environment serves now, from its provider (`None` when
/// the provider cannot tell); a read that takes too long says so.
pub async fn serving(
    deployer: &Deployer,
    spec: &Environment,
    current: Option<&Deployment>,
) -> Option<Serving> {
    let provider = deployer.provider(spec.provider.kind());
    let read = provider.serving(deployer.context(), spec, current);
    match tokio::time::timeout(SERVING_TIMEOUT, read).await {
        Ok(s) => s,
        Err(_) => Some(Serving {
            summary: "unknown".into(),
            facts: Vec::new(),
            traffic: Vec::new(),
            read_at: deployer.context().clock.now(),
            error: Some(format!(
                "no answer from AWS within {}s",
                SERVING_TIMEOUT.as_secs()
            )),
        }),
    }
}

/// The environment definition deployment `id` ran with, if readable.
pub fn spec_of(store: &Store, id: &str) -> Option<Environment> {
    store
        .deployment_spec(id)
        .ok()
        .flatten()
        .and_then(|text| serde_json::from_str(&text).ok())
}

/// The overview of every environment with a deployment, read from the
/// records and, for AWS environments, from the account (all at once);
/// `deployer` is this process's engine's, or one made for the reading.
pub async fn environments(
    store: &Store,
    deployer: &Deployer,
) -> Result<Vec<EnvironmentInfo>, StoreError> {
    let mut environments = Vec::new();
    let mut specs = Vec::new();
    for (pipeline, environment) in store.deployment_environments()? {
        let latest = store
            .deployments(Some(&environment), Some(&pipeline), 1)?
            .into_iter()
            .next();
        let current = store.last_good_deployment(&pipeline, &environment, None)?;
        let rollback_target = match &current {
            Some(c) => store.last_good_deployment(&pipeline, &environment, Some(&c.id))?,
            None => None,
        };
        let spec: Option<Environment> = latest.as_ref().and_then(|d| spec_of(store, &d.id));
        let (provider, listen, instances) = match spec.as_ref().map(|s| &s.provider) {
            Some(Provider::Local {
                instances, listen, ..
            }) => (ProviderKind::Local, listen.clone(), Some(*instances as u32)),
            Some(other) => (other.kind(), None, None),
            // No readable definition: the record says which provider it was.
            None => (
                latest.as_ref().map_or(ProviderKind::Local, |d| d.provider),
                None,
                None,
            ),
        };
        let live = deployer.live(&pipeline, &environment);
        specs.push(spec);
        environments.push(EnvironmentInfo {
            live,
            serving: None,
            pipeline,
            environment,
            provider,
            listen,
            instances,
            current,
            latest,
            rollback_target,
        });
    }
    let reads = environments
        .iter()
        .zip(&specs)
        .map(|(info, spec)| async move {
            match spec {
                Some(spec) => serving(deployer, spec, info.current.as_ref()).await,
                None => None,
            }
        });
    let read = futures_util::future::join_all(reads).await;
    for (info, serving) in environments.iter_mut().zip(read) {
        info.serving = serving;
    }
    Ok(environments)
}
