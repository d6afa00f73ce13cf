//! Every environment deployed to, as the Environments page shows it: what
//! it serves, its newest deployment, what "Roll back" restores, and, when
//! this process's engine serves it, what runs there now.

use crate::model::{EnvironmentInfo, ProviderKind};
use crate::spec::pipeline::{Environment, Provider};
use crate::store::{Store, StoreError};

use super::Deployer;

/// The overview of every environment with a deployment, read from the
/// records; `deployer` is this process's, when it serves environments.
pub fn environments(
    store: &Store,
    deployer: Option<&Deployer>,
) -> Result<Vec<EnvironmentInfo>, StoreError> {
    let mut environments = Vec::new();
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
        let spec: Option<Environment> = latest
            .as_ref()
            .and_then(|d| store.deployment_spec(&d.id).ok().flatten())
            .and_then(|text| serde_json::from_str(&text).ok());
        let (provider, listen, instances) = match spec.map(|s| s.provider) {
            Some(Provider::Local {
                instances, listen, ..
            }) => (ProviderKind::Local, listen, Some(instances as u32)),
            Some(Provider::Command { .. }) => (ProviderKind::Command, None, None),
            // No readable definition: the record says which provider it was.
            None => (
                latest.as_ref().map_or(ProviderKind::Local, |d| d.provider),
                None,
                None,
            ),
        };
        let live = deployer.and_then(|d| d.live(&pipeline, &environment));
        environments.push(EnvironmentInfo {
            live,
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
    Ok(environments)
}
