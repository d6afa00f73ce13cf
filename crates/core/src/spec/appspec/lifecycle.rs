//! CodeDeploy's lifecycle events per compute platform and deployment type,
//! in the order they run, and which of them run the appspec's hooks. The
//! deployer walks these lists; it must not hard-code its own order.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComputePlatform {
    /// EC2 or on-premises instances (and Slipway's local instances).
    Server,
    Ecs,
    Lambda,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentType {
    InPlace,
    BlueGreen,
}

/// Which instances an event runs on in a blue/green deployment (in place,
/// every event runs on the same instances).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceSet {
    /// The instances receiving the new revision.
    Replacement,
    /// The instances being taken out of service.
    Original,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LifecycleEvent {
    pub name: &'static str,
    /// False for the events CodeDeploy performs itself (DownloadBundle,
    /// Install, BlockTraffic, AllowTraffic, AllowTestTraffic).
    pub runs_hooks: bool,
    pub set: InstanceSet,
    /// ApplicationStop and the BlockTraffic hooks run the scripts of the
    /// PREVIOUS successful revision, and are skipped on a first deployment.
    pub uses_previous_revision: bool,
}

const fn hook(name: &'static str) -> LifecycleEvent {
    LifecycleEvent {
        name,
        runs_hooks: true,
        set: InstanceSet::Replacement,
        uses_previous_revision: false,
    }
}
const fn own(name: &'static str) -> LifecycleEvent {
    LifecycleEvent {
        name,
        runs_hooks: false,
        set: InstanceSet::Replacement,
        uses_previous_revision: false,
    }
}
const fn previous(name: &'static str, runs_hooks: bool, set: InstanceSet) -> LifecycleEvent {
    LifecycleEvent {
        name,
        runs_hooks,
        set,
        uses_previous_revision: true,
    }
}

use InstanceSet::{Original, Replacement};

/// The six traffic events happen only behind a load balancer (for the
/// local provider: its router).
const SERVER_IN_PLACE: [LifecycleEvent; 13] = [
    previous("BeforeBlockTraffic", true, Replacement),
    previous("BlockTraffic", false, Replacement),
    previous("AfterBlockTraffic", true, Replacement),
    previous("ApplicationStop", true, Replacement),
    own("DownloadBundle"),
    hook("BeforeInstall"),
    own("Install"),
    hook("AfterInstall"),
    hook("ApplicationStart"),
    hook("ValidateService"),
    hook("BeforeAllowTraffic"),
    own("AllowTraffic"),
    hook("AfterAllowTraffic"),
];

const SERVER_BLUE_GREEN: [LifecycleEvent; 13] = [
    previous("ApplicationStop", true, Replacement),
    own("DownloadBundle"),
    hook("BeforeInstall"),
    own("Install"),
    hook("AfterInstall"),
    hook("ApplicationStart"),
    hook("ValidateService"),
    hook("BeforeAllowTraffic"),
    own("AllowTraffic"),
    hook("AfterAllowTraffic"),
    previous("BeforeBlockTraffic", true, Original),
    previous("BlockTraffic", false, Original),
    previous("AfterBlockTraffic", true, Original),
];

const ECS: [LifecycleEvent; 8] = [
    hook("BeforeInstall"),
    own("Install"),
    hook("AfterInstall"),
    own("AllowTestTraffic"),
    hook("AfterAllowTestTraffic"),
    hook("BeforeAllowTraffic"),
    own("AllowTraffic"),
    hook("AfterAllowTraffic"),
];

const LAMBDA: [LifecycleEvent; 3] = [
    hook("BeforeAllowTraffic"),
    own("AllowTraffic"),
    hook("AfterAllowTraffic"),
];

/// The events of one deployment, in order. ECS and Lambda deployments are
/// always blue/green (traffic shifting), so the type does not change them.
pub fn lifecycle(platform: ComputePlatform, kind: DeploymentType) -> &'static [LifecycleEvent] {
    match (platform, kind) {
        (ComputePlatform::Server, DeploymentType::InPlace) => &SERVER_IN_PLACE,
        (ComputePlatform::Server, DeploymentType::BlueGreen) => &SERVER_BLUE_GREEN,
        (ComputePlatform::Ecs, _) => &ECS,
        (ComputePlatform::Lambda, _) => &LAMBDA,
    }
}

/// The event names an appspec may attach hooks to, for this platform.
pub fn hook_events(platform: ComputePlatform) -> Vec<&'static str> {
    lifecycle(platform, DeploymentType::InPlace)
        .iter()
        .filter(|e| e.runs_hooks)
        .map(|e| e.name)
        .collect()
}

/// Every event name CodeDeploy has on this platform, hooks or not.
pub fn all_events(platform: ComputePlatform) -> Vec<&'static str> {
    lifecycle(platform, DeploymentType::InPlace)
        .iter()
        .map(|e| e.name)
        .collect()
}
