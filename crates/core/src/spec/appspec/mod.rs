//! CodeDeploy appspecs (`appspec.yml` / `appspec.yaml` / `appspec.json`) for
//! the three compute platforms, read as CodeDeploy and its agent read them,
//! into the typed [`Appspec`] the deployer consumes; plus each platform's
//! lifecycle order ([`lifecycle`]).
//!
//! Owns the grammar and its checks, including which hook names a platform
//! allows. Must never copy files, run hooks or call AWS.

mod lifecycle;
mod resources;
mod server;

use serde::Serialize;

pub use lifecycle::{
    all_events, hook_events, lifecycle, ComputePlatform, DeploymentType, InstanceSet,
    LifecycleEvent,
};
pub use resources::{
    AwsvpcConfiguration, CapacityProvider, EcsService, LambdaFunction, TrafficHook,
};
pub use server::{FileExistsBehavior, FileMapping, HookScript, Os, Permission};

use super::error::SpecError;
use super::read::{describe, KeyPath, Reader};
use super::yaml::{self, Node};

/// What every appspec's `version` must be. The CodeDeploy agent compares it
/// as a number against `[0.0]` and fails the deployment otherwise ("Make
/// sure your AppSpec file specifies "0.0" as the version"); the ECS and
/// Lambda references document the same single value.
pub const VERSION: &str = "0.0";

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "platform", rename_all = "kebab-case")]
pub enum Appspec {
    Server {
        os: Os,
        files: Vec<FileMapping>,
        permissions: Vec<Permission>,
        file_exists_behavior: FileExistsBehavior,
        /// Event name -> scripts, in file order. Names outside CodeDeploy's
        /// lifecycle are kept (the agent accepts custom events) but never
        /// triggered by a deployment.
        hooks: Vec<(String, Vec<HookScript>)>,
    },
    Ecs {
        service: EcsService,
        hooks: Vec<TrafficHook>,
    },
    Lambda {
        function: LambdaFunction,
        hooks: Vec<TrafficHook>,
    },
}

impl Appspec {
    pub fn platform(&self) -> ComputePlatform {
        match self {
            Appspec::Server { .. } => ComputePlatform::Server,
            Appspec::Ecs { .. } => ComputePlatform::Ecs,
            Appspec::Lambda { .. } => ComputePlatform::Lambda,
        }
    }
}

/// Parses and validates an appspec (YAML or JSON), returning every error.
pub fn parse(text: &str, file_name: &str) -> Result<Appspec, Vec<SpecError>> {
    let doc = yaml::load(text, file_name).map_err(|e| vec![e])?;
    let mut r = Reader::new(file_name);
    r.findings.extend(doc.warnings);
    match read(&mut r, &doc.root) {
        Some(spec) => r.findings.finish(spec),
        None => Err(r.findings.into_errors()),
    }
}

fn read(r: &mut Reader, root: &Node) -> Option<Appspec> {
    let path = KeyPath::root();
    let mut top = r.mapping(root, &path, "an appspec")?;
    let resources = top.get("Resources");
    let platform = match resources {
        None => ComputePlatform::Server,
        Some(n) => resources::platform(r, n, &path.key("Resources"))?,
    };
    // Only the agent (EC2/on-premises) checks the version; the CodeDeploy
    // service reading ECS and Lambda appspecs does not (real, working ECS
    // appspecs say `version: 1` or leave it out).
    match top.get("version") {
        Some(v) if platform == ComputePlatform::Server => check_version(r, v, &path.key("version")),
        Some(_) => {}
        None if platform == ComputePlatform::Server => r.error(
            root,
            &path,
            format!("missing `version`; the CodeDeploy agent requires `version: {VERSION}`"),
        ),
        None => {}
    }
    match platform {
        ComputePlatform::Server => server::read(r, root, &mut top),
        _ => resources::read(r, &mut top, resources?, platform),
    }
}

fn check_version(r: &mut Reader, v: &Node, path: &KeyPath) {
    let quoted =
        v.as_number().is_none() && v.text().and_then(|t| t.parse::<f64>().ok()) == Some(0.0);
    if v.as_number() == Some(0.0) {
        return;
    }
    let message = if quoted {
        format!(
            "version is the text {} but the CodeDeploy agent compares it as a number; write `version: 0.0` without quotes",
            describe(v)
        )
    } else {
        format!(
            "unsupported appspec version {}; the only version CodeDeploy accepts is {VERSION}",
            describe(v)
        )
    };
    r.error(v, path, message);
}

/// A hook timeout in seconds: CodeDeploy allows at most 3600 per event.
pub const MAX_HOOK_SECONDS: u64 = 3600;
