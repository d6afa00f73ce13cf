//! `environments:` in a pipeline file: where a deploy action deploys, with
//! its provider, health checks, strategy, alarms and rollback policy.

use serde::{Deserialize, Serialize};

use super::strategy::{self, Strategy};
use super::units::{Duration, Percent};
use crate::model::ProviderKind;
use crate::spec::read::{KeyPath, Reader};
use crate::spec::yaml::{Node, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub name: String,
    pub provider: Provider,
    /// A credential profile whose STS session is injected as AWS_*.
    pub account: Option<String>,
    pub region: Option<String>,
    pub health: Option<Health>,
    pub strategy: Option<Strategy>,
    pub termination_wait: Option<Duration>,
    pub bake: Option<Duration>,
    pub alarms: Vec<Alarm>,
    pub auto_rollback: Vec<RollbackOn>,
    /// Local: a failing ApplicationStop hook (the previous revision's
    /// script) is logged and the deployment goes on, as CodeDeploy's
    /// "ignore ApplicationStop failures" does. Records made before this
    /// key existed read as false.
    #[serde(default)]
    pub ignore_application_stop_failures: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "kebab-case")]
pub enum Provider {
    /// Local instances behind a router Slipway runs.
    Local {
        instances: u64,
        listen: Option<String>,
        run: Option<String>,
    },
    /// The user's own deploy tooling.
    Command {
        deploy: Vec<String>,
        verify: Vec<String>,
        rollback: Vec<String>,
    },
    /// A Lambda function's alias, shifted between published versions.
    Lambda {
        function: String,
        /// Created on the first deployment when missing.
        alias: String,
        /// A zip in the input artifact; none: the artifact's files, zipped.
        package: Option<String>,
        #[serde(default)]
        hooks: TrafficHooks,
    },
    /// A bucket (a static site), synchronised with the revision's files.
    S3 {
        bucket: String,
        #[serde(default)]
        prefix: String,
        #[serde(default)]
        delete: bool,
        /// `(glob, Cache-Control value)` in file order: the first match wins.
        #[serde(default)]
        cache_control: Vec<(String, String)>,
        /// A CloudFront distribution whose changed paths are invalidated.
        invalidate: Option<String>,
    },
    /// A stack, updated through change sets.
    #[serde(rename = "cloudformation")]
    CloudFormation {
        stack: String,
        /// The template's path in the input artifact.
        template: String,
        #[serde(default)]
        parameters: Vec<(String, String)>,
        #[serde(default)]
        capabilities: Vec<String>,
    },
    /// An ECS service: rolling updates, or task sets behind weighted target
    /// groups of an ALB listener.
    Ecs {
        cluster: String,
        service: String,
        /// The task definition's path in the input artifact.
        task_definition: String,
        /// Task-set strategies: the listener whose forward action is weighted
        /// and its two target groups (ARNs).
        listener: Option<String>,
        #[serde(default)]
        target_groups: Vec<String>,
        #[serde(default)]
        hooks: TrafficHooks,
    },
}

/// Commands run around a traffic shift, with the account's session
/// injected, like an appspec's BeforeAllowTraffic / AfterAllowTraffic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficHooks {
    pub before_allow_traffic: Vec<String>,
    pub after_allow_traffic: Vec<String>,
}

impl Provider {
    /// Which provider this is.
    pub fn kind(&self) -> ProviderKind {
        match self {
            Provider::Local { .. } => ProviderKind::Local,
            Provider::Command { .. } => ProviderKind::Command,
            Provider::Lambda { .. } => ProviderKind::Lambda,
            Provider::S3 { .. } => ProviderKind::S3,
            Provider::CloudFormation { .. } => ProviderKind::CloudFormation,
            Provider::Ecs { .. } => ProviderKind::Ecs,
        }
    }

    /// Whether this provider deploys into an AWS account (and needs one).
    pub fn is_aws(&self) -> bool {
        !matches!(self, Provider::Local { .. } | Provider::Command { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub check: HealthCheck,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub healthy_threshold: Option<u64>,
    pub unhealthy_threshold: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthCheck {
    Http {
        path: String,
        expect_status: u16,
    },
    Command(String),
    /// No `health:` given: the instance's port accepts connections.
    Listening,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Alarm {
    /// Share of failed responses the router saw over `window`.
    ErrorRate { above: Percent, window: Duration },
    /// In alarm while the command exits non-zero.
    Command(String),
    /// A CloudWatch alarm of the environment's account and region, by name:
    /// in alarm while its state is `ALARM`.
    #[serde(rename = "cloudwatch")]
    CloudWatch(String),
}

/// The most CloudWatch alarms one environment may name: DescribeAlarms
/// takes at most 100 names, and the monitor reads them in one call.
pub const MAX_CLOUDWATCH_ALARMS: usize = 100;
const ALARM_KINDS: [&str; 3] = ["error-rate", "command", "cloudwatch"];
/// CloudWatch's limit on an alarm name.
const ALARM_NAME_MAX: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RollbackOn {
    Failure,
    Health,
    Alarm,
}

const LOCAL_KEYS: [&str; 4] = [
    "instances",
    "listen",
    "run",
    "ignore-application-stop-failures",
];
const COMMAND_KEYS: [&str; 3] = ["deploy", "verify", "rollback"];
const LAMBDA_KEYS: [&str; 4] = ["function", "alias", "package", "hooks"];
const S3_KEYS: [&str; 5] = ["bucket", "prefix", "delete", "cache-control", "invalidate"];
const CLOUDFORMATION_KEYS: [&str; 4] = ["stack", "template", "parameters", "capabilities"];
const ECS_KEYS: [&str; 6] = [
    "cluster",
    "service",
    "task-definition",
    "listener",
    "target-groups",
    "hooks",
];
const PROVIDERS: [&str; 6] = ["local", "command", "lambda", "s3", "cloudformation", "ecs"];
const COMMON_KEYS: [&str; 9] = [
    "provider",
    "account",
    "region",
    "health",
    "strategy",
    "termination-wait",
    "bake",
    "alarms",
    "auto-rollback",
];

pub(super) fn read_all(r: &mut Reader, node: &Node, path: &KeyPath) -> Vec<Environment> {
    let Some(mut f) = r.mapping(node, path, "environments") else {
        return Vec::new();
    };
    f.rest()
        .into_iter()
        .filter_map(|e| {
            let name = e.key.text()?;
            read(r, &e.value, &path.key(name), name)
        })
        .collect()
}

fn read(r: &mut Reader, node: &Node, path: &KeyPath, name: &str) -> Option<Environment> {
    let mut f = r.mapping(node, path, "an environment")?;
    let provider_name = match f.get("provider") {
        Some(n) => r.choice(n, &path.key("provider"), &PROVIDERS, "provider"),
        None => Some("local".to_string()),
    };
    let mut known: Vec<&str> = COMMON_KEYS.to_vec();
    let provider = match provider_name.as_deref() {
        Some("command") => {
            known.extend(COMMAND_KEYS);
            let mut list = |key: &str| {
                f.get(key)
                    .map(|n| r.strings(n, &path.key(key), "commands", true))
                    .unwrap_or_default()
            };
            let deploy = list("deploy");
            let verify = list("verify");
            let rollback = list("rollback");
            if deploy.is_empty() {
                r.error(
                    node,
                    path,
                    "a `command` environment needs `deploy:` commands",
                );
            }
            Some(Provider::Command {
                deploy,
                verify,
                rollback,
            })
        }
        Some(aws @ ("lambda" | "s3" | "cloudformation" | "ecs")) => {
            aws_provider(r, &mut f, node, path, aws, &mut known)
        }
        Some(_) => {
            known.extend(LOCAL_KEYS);
            let instances = f
                .get("instances")
                .and_then(|n| r.integer(n, &path.key("instances"), 1..=64, "an instance count"))
                .unwrap_or(1);
            let listen = f.get("listen").and_then(|n| {
                let s = r.string(n, &path.key("listen"), "an address like 127.0.0.1:18080")?;
                if s.parse::<std::net::SocketAddr>().is_err() {
                    r.error(
                        n,
                        &path.key("listen"),
                        format!("`{s}` is not an address like 127.0.0.1:18080"),
                    );
                }
                Some(s)
            });
            let run = f
                .get("run")
                .and_then(|n| r.string(n, &path.key("run"), "the command that runs the service"));
            Some(Provider::Local {
                instances,
                listen,
                run,
            })
        }
        None => None,
    };
    let text = |r: &mut Reader, f: &mut crate::spec::read::Fields<'_>, key: &str, what: &str| {
        f.get(key).and_then(|n| r.string(n, &path.key(key), what))
    };
    let account = text(r, &mut f, "account", "a credential profile name");
    let region = text(r, &mut f, "region", "an AWS region");
    let health = f
        .get("health")
        .and_then(|n| health(r, n, &path.key("health")));
    let strategy = f
        .get("strategy")
        .and_then(|n| strategy::read(r, n, &path.key("strategy")));
    let termination_wait = f
        .get("termination-wait")
        .and_then(|n| strategy::duration(r, n, &path.key("termination-wait")));
    let bake = f
        .get("bake")
        .and_then(|n| strategy::duration(r, n, &path.key("bake")));
    let ignore_application_stop_failures = f
        .get("ignore-application-stop-failures")
        .and_then(|n| {
            r.bool(
                n,
                &path.key("ignore-application-stop-failures"),
                "whether to go on when ApplicationStop fails",
            )
        })
        .unwrap_or(false);
    if provider.as_ref().is_some_and(Provider::is_aws) && account.is_none() {
        r.error(
            node,
            path,
            format!(
                "a `{}` environment needs `account:` (the credential profile whose session deploys)",
                provider_name.as_deref().unwrap_or("?")
            ),
        );
    }
    let alarms = f
        .get("alarms")
        .map(|n| alarms(r, n, &path.key("alarms"), account.is_some()))
        .unwrap_or_default();
    if let (Some(Provider::Ecs { listener: None, .. }), Some(s)) = (&provider, &strategy) {
        if !matches!(s, Strategy::AllAtOnce | Strategy::Rolling { .. }) {
            r.error(
                node,
                &path.key("strategy"),
                "a task-set strategy (blue-green, canary, linear) moves an ALB listener's weights: \
                 name its `listener` and the two `target-groups`",
            );
        }
    }
    if provider.as_ref().is_some_and(Provider::is_aws)
        && alarms.iter().any(|a| matches!(a, Alarm::ErrorRate { .. }))
    {
        r.error(
            node,
            &path.key("alarms"),
            "an `error-rate` alarm reads the local router's responses; on an AWS environment \
             use a `cloudwatch:` alarm on the service's error metric",
        );
    }
    let auto_rollback = match f.get("auto-rollback") {
        Some(n) => {
            let p = path.key("auto-rollback");
            let mut out = Vec::new();
            for (i, item) in r.sequence(n, &p, "rollback causes").iter().enumerate() {
                match r
                    .choice(
                        item,
                        &p.index(i),
                        &["failure", "health", "alarm"],
                        "rollback cause",
                    )
                    .as_deref()
                {
                    Some("failure") => out.push(RollbackOn::Failure),
                    Some("health") => out.push(RollbackOn::Health),
                    Some("alarm") => out.push(RollbackOn::Alarm),
                    _ => {}
                }
            }
            out
        }
        None => vec![RollbackOn::Failure, RollbackOn::Health, RollbackOn::Alarm],
    };
    let what = format!(
        "environment `{name}` (provider {})",
        provider_name.as_deref().unwrap_or("?")
    );
    r.unknown_keys(&mut f, &known, &what);
    Some(Environment {
        name: name.to_string(),
        provider: provider?,
        account,
        region,
        health,
        strategy,
        termination_wait,
        bake,
        alarms,
        auto_rollback,
        ignore_application_stop_failures,
    })
}

/// The keys of an AWS provider; `known` grows by them.
fn aws_provider(
    r: &mut Reader,
    f: &mut crate::spec::read::Fields<'_>,
    node: &Node,
    path: &KeyPath,
    name: &str,
    known: &mut Vec<&'static str>,
) -> Option<Provider> {
    let required = |r: &mut Reader,
                    f: &mut crate::spec::read::Fields<'_>,
                    key: &str,
                    what: &str| match f.get(key) {
        Some(n) => r.string(n, &path.key(key), what).filter(|s| {
            if s.is_empty() {
                r.error(n, &path.key(key), format!("`{key}` is empty; name {what}"));
            }
            !s.is_empty()
        }),
        None => {
            r.error(
                node,
                path,
                format!("a `{name}` environment needs `{key}:` ({what})"),
            );
            None
        }
    };
    let optional =
        |r: &mut Reader, f: &mut crate::spec::read::Fields<'_>, key: &str, what: &str| {
            f.get(key).and_then(|n| r.string(n, &path.key(key), what))
        };
    match name {
        "lambda" => {
            known.extend(LAMBDA_KEYS);
            let function = required(r, f, "function", "the function's name or ARN");
            let alias = optional(r, f, "alias", "an alias name").unwrap_or_else(|| "live".into());
            let package = optional(r, f, "package", "a zip file in the input artifact");
            let hooks = f
                .get("hooks")
                .map(|n| traffic_hooks(r, n, &path.key("hooks")))
                .unwrap_or_default();
            Some(Provider::Lambda {
                function: function?,
                alias,
                package,
                hooks,
            })
        }
        "s3" => {
            known.extend(S3_KEYS);
            let bucket = required(r, f, "bucket", "the bucket's name");
            let prefix = optional(r, f, "prefix", "a key prefix").unwrap_or_default();
            let delete = f
                .get("delete")
                .and_then(|n| {
                    r.bool(
                        n,
                        &path.key("delete"),
                        "whether to remove objects the revision no longer has",
                    )
                })
                .unwrap_or(false);
            let cache_control = f
                .get("cache-control")
                .map(|n| {
                    let p = path.key("cache-control");
                    let map = r.string_map(n, &p, "globs and Cache-Control values");
                    for (glob, _) in &map {
                        if let Err(e) = globset::Glob::new(glob) {
                            r.error(n, &p.key(glob), format!("`{glob}` is not a glob: {e}"));
                        }
                    }
                    map
                })
                .unwrap_or_default();
            let invalidate = optional(r, f, "invalidate", "a CloudFront distribution id");
            Some(Provider::S3 {
                bucket: bucket?,
                prefix,
                delete,
                cache_control,
                invalidate,
            })
        }
        "cloudformation" => {
            known.extend(CLOUDFORMATION_KEYS);
            let stack = required(r, f, "stack", "the stack's name");
            let template = required(
                r,
                f,
                "template",
                "the template's path in the input artifact",
            );
            let parameters = f
                .get("parameters")
                .map(|n| r.string_map(n, &path.key("parameters"), "template parameters"))
                .unwrap_or_default();
            let capabilities = f
                .get("capabilities")
                .map(|n| {
                    let p = path.key("capabilities");
                    let list = r.strings(n, &p, "capabilities", true);
                    for (i, c) in list.iter().enumerate() {
                        if !CAPABILITIES.contains(&c.as_str()) {
                            r.error(
                                n,
                                &p.index(i),
                                format!(
                                    "`{c}` is not a CloudFormation capability (one of {})",
                                    CAPABILITIES.join(", ")
                                ),
                            );
                        }
                    }
                    list
                })
                .unwrap_or_default();
            Some(Provider::CloudFormation {
                stack: stack?,
                template: template?,
                parameters,
                capabilities,
            })
        }
        _ => {
            known.extend(ECS_KEYS);
            let cluster = required(r, f, "cluster", "the cluster's name or ARN");
            let service = required(r, f, "service", "the service's name");
            let task_definition =
                optional(r, f, "task-definition", "a JSON file in the input artifact")
                    .unwrap_or_else(|| "taskdef.json".into());
            let listener = optional(r, f, "listener", "an ALB listener's ARN");
            let target_groups = f
                .get("target-groups")
                .map(|n| r.strings(n, &path.key("target-groups"), "target group ARNs", false))
                .unwrap_or_default();
            if !(target_groups.is_empty() || target_groups.len() == 2) {
                r.error(
                    node,
                    &path.key("target-groups"),
                    "`target-groups` names two target groups (blue and green), in the listener's order",
                );
            }
            if listener.is_some() == target_groups.is_empty() {
                r.error(
                    node,
                    path,
                    "`listener` and `target-groups` go together: the listener's forward action is weighted between the two groups",
                );
            }
            let hooks = f
                .get("hooks")
                .map(|n| traffic_hooks(r, n, &path.key("hooks")))
                .unwrap_or_default();
            Some(Provider::Ecs {
                cluster: cluster?,
                service: service?,
                task_definition,
                listener,
                target_groups,
                hooks,
            })
        }
    }
}

/// CloudFormation's capabilities.
const CAPABILITIES: [&str; 3] = [
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
    "CAPABILITY_AUTO_EXPAND",
];

fn traffic_hooks(r: &mut Reader, node: &Node, path: &KeyPath) -> TrafficHooks {
    let Some(mut f) = r.mapping(node, path, "traffic hooks") else {
        return TrafficHooks::default();
    };
    let mut list = |r: &mut Reader, key: &str| {
        f.get(key)
            .map(|n| r.strings(n, &path.key(key), "commands", true))
            .unwrap_or_default()
    };
    let hooks = TrafficHooks {
        before_allow_traffic: list(r, "before-allow-traffic"),
        after_allow_traffic: list(r, "after-allow-traffic"),
    };
    r.unknown_keys(
        &mut f,
        &["before-allow-traffic", "after-allow-traffic"],
        "traffic hooks",
    );
    hooks
}

fn health(r: &mut Reader, node: &Node, path: &KeyPath) -> Option<Health> {
    let mut f = r.mapping(node, path, "a health check")?;
    let http = f.get("http");
    let command = f.get("command");
    let check = match (http, command) {
        (Some(h), None) => {
            let path_text = r.string(h, &path.key("http"), "a URL path like /healthz")?;
            if !path_text.starts_with('/') {
                r.error(
                    h,
                    &path.key("http"),
                    format!("`{path_text}` is not a URL path; start it with /"),
                );
            }
            let expect_status = f
                .get("expect-status")
                .and_then(|n| r.integer(n, &path.key("expect-status"), 100..=599, "an HTTP status"))
                .unwrap_or(200) as u16;
            HealthCheck::Http {
                path: path_text,
                expect_status,
            }
        }
        (None, Some(c)) => HealthCheck::Command(r.string(c, &path.key("command"), "a command")?),
        (Some(_), Some(c)) => {
            r.error(
                c,
                &path.key("command"),
                "a health check is either `http` or `command`, not both",
            );
            return None;
        }
        (None, None) => {
            r.error(
                node,
                path,
                "a health check needs `http: /path` or `command: …`",
            );
            return None;
        }
    };
    let interval = f
        .get("interval")
        .and_then(|n| strategy::duration(r, n, &path.key("interval")));
    let timeout = f
        .get("timeout")
        .and_then(|n| strategy::duration(r, n, &path.key("timeout")));
    let healthy_threshold = f
        .get("healthy-threshold")
        .and_then(|n| r.integer(n, &path.key("healthy-threshold"), 1..=100, "a count"));
    let unhealthy_threshold = f
        .get("unhealthy-threshold")
        .and_then(|n| r.integer(n, &path.key("unhealthy-threshold"), 1..=100, "a count"));
    let mut known = vec![
        "http",
        "command",
        "interval",
        "timeout",
        "healthy-threshold",
        "unhealthy-threshold",
    ];
    if matches!(check, HealthCheck::Http { .. }) {
        known.push("expect-status");
    }
    r.unknown_keys(&mut f, &known, "a health check");
    Some(Health {
        check,
        interval,
        timeout,
        healthy_threshold,
        unhealthy_threshold,
    })
}

fn alarms(r: &mut Reader, node: &Node, path: &KeyPath, has_account: bool) -> Vec<Alarm> {
    let mut out = Vec::new();
    let mut cloudwatch = 0;
    for (i, item) in r.sequence(node, path, "alarms").iter().enumerate() {
        let p = path.index(i);
        let Some(mut f) = r.mapping(
            item,
            &p,
            "an alarm (`error-rate:`, `command:` or `cloudwatch:`)",
        ) else {
            continue;
        };
        let kinds: Vec<&str> = match &item.value {
            Value::Mapping(entries) => ALARM_KINDS
                .into_iter()
                .filter(|k| entries.iter().any(|e| e.key.text() == Some(*k)))
                .collect(),
            _ => Vec::new(),
        };
        if kinds.len() > 1 {
            r.error(
                item,
                &p,
                format!(
                    "an alarm is one of `error-rate:`, `command:` or `cloudwatch:`; this one has {}",
                    kinds
                        .iter()
                        .map(|k| format!("`{k}:`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            );
            for k in ALARM_KINDS {
                f.get(k);
            }
            r.unknown_keys(&mut f, &ALARM_KINDS, "an alarm");
            continue;
        }
        if let Some(n) = f.get("error-rate") {
            let ep = p.key("error-rate");
            if let Some(mut g) = r.mapping(n, &ep, "an error-rate alarm") {
                let above = match g.get("above") {
                    Some(v) => strategy::percent(r, v, &ep.key("above"), false),
                    None => {
                        r.error(n, &ep, "missing `above` (a percentage like 5%)");
                        None
                    }
                };
                let window = g
                    .get("window")
                    .and_then(|v| strategy::duration(r, v, &ep.key("window")))
                    .unwrap_or(Duration { seconds: 60 });
                r.unknown_keys(&mut g, &["above", "window"], "an error-rate alarm");
                if let Some(above) = above {
                    out.push(Alarm::ErrorRate { above, window });
                }
            }
        } else if let Some(n) = f.get("command") {
            if let Some(c) = r.string(n, &p.key("command"), "a command") {
                out.push(Alarm::Command(c));
            }
        } else if let Some(n) = f.get("cloudwatch") {
            let cp = p.key("cloudwatch");
            if let Some(name) = r.string(n, &cp, "a CloudWatch alarm name") {
                cloudwatch += 1;
                if name.is_empty() || name.chars().count() > ALARM_NAME_MAX {
                    r.error(
                        n,
                        &cp,
                        format!("a CloudWatch alarm name is 1-{ALARM_NAME_MAX} characters"),
                    );
                } else if !has_account {
                    r.error(
                        n,
                        &cp,
                        format!(
                            "the `cloudwatch: {name}` alarm needs the environment's `account:` \
                             (the credential profile whose session reads the alarm's state)"
                        ),
                    );
                } else if cloudwatch == MAX_CLOUDWATCH_ALARMS + 1 {
                    r.error(
                        n,
                        &cp,
                        format!(
                            "an environment names at most {MAX_CLOUDWATCH_ALARMS} CloudWatch \
                             alarms (they are read in one DescribeAlarms call)"
                        ),
                    );
                } else {
                    out.push(Alarm::CloudWatch(name));
                }
            }
        } else if !matches!(item.value, Value::Mapping(ref m) if !m.is_empty()) {
            r.error(
                item,
                &p,
                "an alarm needs `error-rate:`, `command:` or `cloudwatch:`",
            );
        }
        r.unknown_keys(&mut f, &ALARM_KINDS, "an alarm");
    }
    out
}
