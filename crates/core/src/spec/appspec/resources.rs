//! The ECS and Lambda appspecs: one resource under `Resources` and the
//! `Hooks` list of Lambda validation functions, as the CodeDeploy service
//! reads them.

use serde::Serialize;

use super::lifecycle::{all_events, hook_events, ComputePlatform};
use super::Appspec;
use crate::spec::read::{describe, suggest, Fields, KeyPath, Reader};

use crate::spec::yaml::{Node, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EcsService {
    /// The resource's name in the file (usually `TargetService`).
    pub resource: String,
    pub task_definition: String,
    pub container_name: String,
    pub container_port: u64,
    pub platform_version: Option<String>,
    pub network: Option<AwsvpcConfiguration>,
    pub capacity_providers: Vec<CapacityProvider>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AwsvpcConfiguration {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapacityProvider {
    pub capacity_provider: String,
    pub base: Option<u64>,
    pub weight: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LambdaFunction {
    pub resource: String,
    pub name: String,
    pub alias: String,
    pub current_version: Option<String>,
    pub target_version: String,
}

/// A lifecycle event and the Lambda function that validates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrafficHook {
    pub event: String,
    pub function: String,
}

const ECS_TYPE: &str = "AWS::ECS::Service";
const LAMBDA_TYPE: &str = "AWS::Lambda::Function";

/// The single resource entry: `- Name: { Type, Properties }`.
fn resource(node: &Node) -> Option<(&str, &Node)> {
    match &node.value {
        Value::Sequence(items) => match &items.first()?.value {
            Value::Mapping(m) => m.first().and_then(|e| Some((e.key.text()?, &e.value))),
            _ => None,
        },
        _ => None,
    }
}

fn resource_type(node: &Node) -> Option<&str> {
    match &node.value {
        Value::Mapping(m) => m
            .iter()
            .find(|e| e.key.text() == Some("Type"))?
            .value
            .text(),
        _ => None,
    }
}

/// Which platform the `Resources` section describes.
pub(super) fn platform(r: &mut Reader, node: &Node, path: &KeyPath) -> Option<ComputePlatform> {
    let Some((name, body)) = resource(node) else {
        r.error(node, path, "expected `Resources` to be a list holding one resource, like `- TargetService: {Type: AWS::ECS::Service, Properties: …}`");
        return None;
    };
    match resource_type(body) {
        Some(ECS_TYPE) => Some(ComputePlatform::Ecs),
        Some(LAMBDA_TYPE) => Some(ComputePlatform::Lambda),
        Some(other) => {
            r.error(
                body,
                &path.index(0).key(name).key("Type"),
                format!(
                    "unsupported resource type `{other}`; expected `{ECS_TYPE}` or `{LAMBDA_TYPE}`"
                ),
            );
            None
        }
        None => {
            r.error(
                body,
                &path.index(0).key(name),
                format!("missing `Type`: expected `{ECS_TYPE}` or `{LAMBDA_TYPE}`"),
            );
            None
        }
    }
}

pub(super) fn read(
    r: &mut Reader,
    top: &mut Fields<'_>,
    resources: &Node,
    platform: ComputePlatform,
) -> Option<Appspec> {
    let path = KeyPath::root();
    let rp = path.key("Resources");
    if let Value::Sequence(items) = &resources.value {
        if items.len() > 1 {
            r.error(
                &items[1],
                &rp.index(1),
                "CodeDeploy deploys exactly one resource per appspec; remove the extra resources",
            );
        }
    }
    let (name, body) = resource(resources)?;
    let bp = rp.index(0).key(name);
    let mut f = r.mapping(body, &bp, "a resource")?;
    let _ = f.get("Type");
    let props = f.get("Properties");
    r.misspelt_keys(&mut f, &["Type", "Properties"], "a resource");
    let Some(props) = props else {
        r.error(body, &bp, "missing `Properties`");
        return None;
    };
    let pp = bp.key("Properties");
    let hooks = top
        .get("Hooks")
        .map(|n| hooks(r, n, &path.key("Hooks"), platform))
        .unwrap_or_default();
    // Like the agent, the CodeDeploy service ignores keys it does not use
    // (real ECS appspecs carry an EC2-style `files:`); only a misspelt key,
    // whose setting would be lost, is reported.
    let what = format!("an {} appspec", name_of(platform));
    r.misspelt_keys(top, &["version", "Resources", "Hooks"], &what);
    match platform {
        ComputePlatform::Lambda => {
            lambda(r, props, &pp, name).map(|function| Appspec::Lambda { function, hooks })
        }
        _ => ecs(r, props, &pp, name).map(|service| Appspec::Ecs { service, hooks }),
    }
}

fn name_of(platform: ComputePlatform) -> &'static str {
    match platform {
        ComputePlatform::Lambda => "Lambda",
        _ => "ECS",
    }
}

fn required(r: &mut Reader, f: &mut Fields<'_>, key: &str, what: &str) -> Option<String> {
    match f.get(key) {
        Some(n) => r.string(n, &f.path.key(key), what),
        None => {
            let (node, path) = (f.node, f.path.clone());
            r.error(node, &path, format!("missing `{key}` ({what})"));
            None
        }
    }
}

fn ecs(r: &mut Reader, node: &Node, path: &KeyPath, resource: &str) -> Option<EcsService> {
    let mut f = r.mapping(node, path, "ECS service properties")?;
    let task_definition = required(r, &mut f, "TaskDefinition", "the task definition ARN");
    let mut container = None;
    match f.get("LoadBalancerInfo") {
        Some(n) => {
            let lp = path.key("LoadBalancerInfo");
            if let Some(mut lb) = r.mapping(n, &lp, "LoadBalancerInfo") {
                let name = required(
                    r,
                    &mut lb,
                    "ContainerName",
                    "the container that receives traffic",
                );
                let port = match lb.get("ContainerPort") {
                    Some(p) => r.integer(p, &lp.key("ContainerPort"), 1..=65535, "a port"),
                    None => {
                        r.error(n, &lp, "missing `ContainerPort`");
                        None
                    }
                };
                r.unknown_keys(
                    &mut lb,
                    &["ContainerName", "ContainerPort"],
                    "LoadBalancerInfo",
                );
                container = name.zip(port);
            }
        }
        None => r.error(
            node,
            path,
            "missing `LoadBalancerInfo` (ContainerName and ContainerPort)",
        ),
    }
    let platform_version = f
        .get("PlatformVersion")
        .and_then(|n| r.string(n, &path.key("PlatformVersion"), "a platform version"));
    let network = f
        .get("NetworkConfiguration")
        .and_then(|n| network(r, n, &path.key("NetworkConfiguration")));
    let mut capacity_providers = Vec::new();
    if let Some(n) = f.get("CapacityProviderStrategy") {
        let cp = path.key("CapacityProviderStrategy");
        for (i, item) in r.sequence(n, &cp, "capacity providers").iter().enumerate() {
            let ip = cp.index(i);
            let Some(mut c) = r.mapping(item, &ip, "a capacity provider") else {
                continue;
            };
            let name = required(r, &mut c, "CapacityProvider", "a capacity provider name");
            let base = c
                .get("Base")
                .and_then(|b| r.integer(b, &ip.key("Base"), 0..=100_000, "a task count"));
            let weight = c
                .get("Weight")
                .and_then(|w| r.integer(w, &ip.key("Weight"), 0..=1000, "a weight"));
            r.unknown_keys(
                &mut c,
                &["CapacityProvider", "Base", "Weight"],
                "a capacity provider",
            );
            if let Some(capacity_provider) = name {
                capacity_providers.push(CapacityProvider {
                    capacity_provider,
                    base,
                    weight,
                });
            }
        }
    }
    r.unknown_keys(
        &mut f,
        &[
            "TaskDefinition",
            "LoadBalancerInfo",
            "PlatformVersion",
            "NetworkConfiguration",
            "CapacityProviderStrategy",
        ],
        "ECS service properties",
    );
    let (container_name, container_port) = container?;
    Some(EcsService {
        resource: resource.to_string(),
        task_definition: task_definition?,
        container_name,
        container_port,
        platform_version,
        network,
        capacity_providers,
    })
}

fn network(r: &mut Reader, node: &Node, path: &KeyPath) -> Option<AwsvpcConfiguration> {
    let mut f = r.mapping(node, path, "NetworkConfiguration")?;
    // AWS's appspec reference writes `AwsvpcConfiguration`; the ECS API's
    // camelCase spelling is common in real files and accepted as well.
    let (key, n) = f.get_any(&["AwsvpcConfiguration", "awsvpcConfiguration"])?;
    r.unknown_keys(&mut f, &["AwsvpcConfiguration"], "NetworkConfiguration");
    let ap = path.key(key);
    let mut a = r.mapping(n, &ap, "AwsvpcConfiguration")?;
    let mut cfg = AwsvpcConfiguration::default();
    if let Some((k, v)) = a.get_any(&["Subnets", "subnets"]) {
        cfg.subnets = r.strings(v, &ap.key(k), "subnet ids", false);
    }
    if let Some((k, v)) = a.get_any(&["SecurityGroups", "securityGroups"]) {
        cfg.security_groups = r.strings(v, &ap.key(k), "security group ids", false);
    }
    if let Some((k, v)) = a.get_any(&["AssignPublicIp", "assignPublicIp"]) {
        cfg.assign_public_ip = r.choice(
            v,
            &ap.key(k),
            &["ENABLED", "DISABLED"],
            "AssignPublicIp value",
        );
    }
    r.unknown_keys(
        &mut a,
        &["Subnets", "SecurityGroups", "AssignPublicIp"],
        "AwsvpcConfiguration",
    );
    Some(cfg)
}

fn lambda(r: &mut Reader, node: &Node, path: &KeyPath, resource: &str) -> Option<LambdaFunction> {
    let mut f = r.mapping(node, path, "Lambda function properties")?;
    let name = required(r, &mut f, "Name", "the function name");
    let alias = required(r, &mut f, "Alias", "the alias whose traffic shifts");
    let current_version = f
        .get("CurrentVersion")
        .and_then(|n| r.string(n, &path.key("CurrentVersion"), "a function version"));
    let target_version = required(r, &mut f, "TargetVersion", "the version traffic shifts to");
    r.unknown_keys(
        &mut f,
        &["Name", "Alias", "CurrentVersion", "TargetVersion"],
        "Lambda function properties",
    );
    Some(LambdaFunction {
        resource: resource.to_string(),
        name: name?,
        alias: alias?,
        current_version,
        target_version: target_version?,
    })
}

fn hooks(
    r: &mut Reader,
    node: &Node,
    path: &KeyPath,
    platform: ComputePlatform,
) -> Vec<TrafficHook> {
    let allowed = hook_events(platform);
    let every = all_events(platform);
    let mut out = Vec::new();
    for (i, item) in r.sequence(node, path, "hooks").iter().enumerate() {
        let ip = path.index(i);
        let Some(mut f) = r.mapping(item, &ip, "a hook (`- Event: FunctionName`)") else {
            continue;
        };
        for e in f.rest() {
            let Some(event) = e.key.text() else { continue };
            let p = ip.key(event);
            if !allowed.contains(&event) {
                let message = if every.contains(&event) {
                    format!("`{event}` is performed by CodeDeploy itself and takes no hook")
                } else {
                    let mut m = format!("`{event}` is not a {} lifecycle event", name_of(platform));
                    match suggest(event, &allowed) {
                        Some(s) => m.push_str(&format!("; did you mean `{s}`?")),
                        None => m.push_str(&format!("; hooks may be {}", allowed.join(", "))),
                    }
                    m
                };
                r.error(&e.key, &p, message);
                continue;
            }
            match e.value.text() {
                Some(function) if !function.trim().is_empty() => out.push(TrafficHook {
                    event: event.to_string(),
                    function: function.to_string(),
                }),
                _ => r.error(
                    &e.value,
                    &p,
                    format!(
                    "expected the name of the Lambda function that validates `{event}`, found {}",
                    describe(&e.value)
                ),
                ),
            }
        }
    }
    out
}
