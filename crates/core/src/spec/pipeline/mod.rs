//! Slipway's own pipeline files (`.slipway/*.yml`):
//! triggers, variables, environments, strategies, stages and actions, read
//! into the typed [`Pipeline`] the engine runs, and cross-checked (artifacts
//! flow forward, `#{…}` references name earlier namespaces, deploy actions
//! name real environments).
//!
//! Owns the grammar and those checks. Must never run an execution, read the
//! buildspecs a pipeline names (they live at the revision being built), or
//! touch the clock.

mod checks;
mod environment;
mod strategy;
mod units;

use std::path::Path;

use serde::Serialize;

pub use environment::{
    Alarm, Environment, Health, HealthCheck, Provider, RollbackOn, TrafficHooks,
    MAX_CLOUDWATCH_ALARMS,
};
pub use strategy::{MinimumHealthy, Strategy, CODEDEPLOY_NAMES, NAMES as STRATEGY_NAMES};
pub use units::{Cron, Duration, Percent};

use super::buildspec::{self, Buildspec};
use super::error::SpecError;
use super::read::{KeyPath, Reader};
use super::yaml::{self, Node, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pipeline {
    pub version: u64,
    /// `name:`, or else the file's stem.
    pub name: String,
    pub execution_mode: ExecutionMode,
    /// None at all: manual runs only.
    pub triggers: Vec<Trigger>,
    pub variables: Vec<(String, String)>,
    pub environments: Vec<Environment>,
    pub stages: Vec<Stage>,
}

impl Pipeline {
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionMode {
    /// A newer execution may overtake an older one waiting between stages.
    Superseded,
    /// One at a time, in order.
    Queued,
    /// Independent executions.
    Parallel,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    Push {
        /// Globs; a leading `!` excludes, and excludes beat includes.
        branches: Vec<String>,
        paths_include: Vec<String>,
        paths_exclude: Vec<String>,
    },
    Tag(Vec<String>),
    Schedule(Cron),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    pub name: String,
    pub on_failure: StageFailure,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageFailure {
    Fail,
    /// Undo this stage's deployments.
    Rollback,
}

pub use crate::model::ActionType;

/// Every action type's spelling, for the reader's messages.
fn action_types() -> Vec<&'static str> {
    ActionType::ALL.iter().map(|t| t.as_str()).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    pub name: String,
    pub r#type: ActionType,
    /// Same run-order in a stage: in parallel; ascending: in sequence.
    pub run_order: u64,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub namespace: Option<String>,
    pub timeout: Option<Duration>,
    /// build and test actions.
    pub buildspec: Option<BuildspecSource>,
    /// deploy (required) and command (for its credentials) actions.
    pub environment: Option<String>,
    /// deploy actions: overrides the environment's strategy.
    pub strategy: Option<Strategy>,
    /// approval actions.
    pub message: Option<String>,
    /// command actions.
    pub commands: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuildspecSource {
    /// A path in the source revision.
    Path(String),
    Inline(Box<Buildspec>),
}

/// The artifact the implicit source stage produces: the revision's tree.
pub const SOURCE_ARTIFACT: &str = "source";

/// Parses and validates a pipeline file, returning every error found.
pub fn parse(text: &str, file_name: &str) -> Result<Pipeline, Vec<SpecError>> {
    let doc = yaml::load(text, file_name).map_err(|e| vec![e])?;
    let mut r = Reader::new(file_name);
    r.findings.extend(doc.warnings);
    let stem = Path::new(file_name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("pipeline")
        .to_string();
    match read(&mut r, &doc.root, stem) {
        Some(p) => r.findings.finish(p),
        None => Err(r.findings.into_errors()),
    }
}

const TOP_KEYS: [&str; 7] = [
    "version",
    "name",
    "execution-mode",
    "triggers",
    "variables",
    "environments",
    "stages",
];

fn read(r: &mut Reader, root: &Node, stem: String) -> Option<Pipeline> {
    let path = KeyPath::root();
    let mut top = r.mapping(root, &path, "a pipeline")?;
    let version = match top.get("version") {
        Some(n) => r.integer(
            n,
            &path.key("version"),
            1..=1,
            "the pipeline format version (1)",
        ),
        None => {
            r.error(
                root,
                &path,
                "missing `version`; add `version: 1` at the top",
            );
            None
        }
    };
    let name = top
        .get("name")
        .and_then(|n| r.string(n, &path.key("name"), "a pipeline name"))
        .unwrap_or(stem);
    let execution_mode = match top.get("execution-mode") {
        Some(n) => match r
            .choice(
                n,
                &path.key("execution-mode"),
                &["superseded", "queued", "parallel"],
                "execution mode",
            )
            .as_deref()
        {
            Some("queued") => ExecutionMode::Queued,
            Some("parallel") => ExecutionMode::Parallel,
            _ => ExecutionMode::Superseded,
        },
        None => ExecutionMode::Superseded,
    };
    let triggers = top
        .get("triggers")
        .map(|n| triggers(r, n, &path.key("triggers")))
        .unwrap_or_default();
    let variables = top
        .get("variables")
        .map(|n| r.string_map(n, &path.key("variables"), "variables"))
        .unwrap_or_default();
    let env_node = top.get("environments");
    let environments = env_node
        .map(|n| environment::read_all(r, n, &path.key("environments")))
        .unwrap_or_default();
    let mut stages = Vec::new();
    let mut stage_nodes = Vec::new();
    match top.get("stages") {
        Some(n) => {
            let sp = path.key("stages");
            for (i, item) in r.sequence(n, &sp, "stages").iter().enumerate() {
                if let Some((stage, actions)) = stage(r, item, &sp.index(i)) {
                    stages.push(stage);
                    stage_nodes.push(checks::StageNodes {
                        node: item,
                        path: sp.index(i),
                        actions,
                    });
                }
            }
            if stages.is_empty()
                && !n.is_null()
                && matches!(n.value, Value::Sequence(ref s) if s.is_empty())
            {
                r.error(n, &sp, "a pipeline needs at least one stage");
            }
        }
        None => r.error(
            root,
            &path,
            "missing `stages`: a pipeline needs at least one stage",
        ),
    }
    r.unknown_keys(&mut top, &TOP_KEYS, "a pipeline");
    let pipeline = Pipeline {
        version: version?,
        name,
        execution_mode,
        triggers,
        variables,
        environments,
        stages,
    };
    checks::run(r, &pipeline, &stage_nodes, env_node);
    Some(pipeline)
}

fn triggers(r: &mut Reader, node: &Node, path: &KeyPath) -> Vec<Trigger> {
    let mut out = Vec::new();
    for (i, item) in r.sequence(node, path, "triggers").iter().enumerate() {
        let p = path.index(i);
        let Some(mut f) = r.mapping(item, &p, "a trigger (`push:`, `tag:` or `schedule:`)") else {
            continue;
        };
        if let Some(n) = f.get("push") {
            let pp = p.key("push");
            if let Some(mut g) = r.mapping(n, &pp, "a push trigger") {
                let branches = g
                    .get("branches")
                    .map(|b| r.strings(b, &pp.key("branches"), "branch globs", true))
                    .unwrap_or_default();
                let (mut include, mut exclude) = (Vec::new(), Vec::new());
                if let Some(paths) = g.get("paths") {
                    let fp = pp.key("paths");
                    if let Some(mut h) = r.mapping(paths, &fp, "a changed-path filter") {
                        include = h
                            .get("include")
                            .map(|x| r.strings(x, &fp.key("include"), "path globs", true))
                            .unwrap_or_default();
                        exclude = h
                            .get("exclude")
                            .map(|x| r.strings(x, &fp.key("exclude"), "path globs", true))
                            .unwrap_or_default();
                        r.unknown_keys(&mut h, &["include", "exclude"], "a changed-path filter");
                    }
                }
                r.unknown_keys(&mut g, &["branches", "paths"], "a push trigger");
                out.push(Trigger::Push {
                    branches,
                    paths_include: include,
                    paths_exclude: exclude,
                });
            }
        }
        if let Some(n) = f.get("tag") {
            out.push(Trigger::Tag(r.strings(n, &p.key("tag"), "tag globs", true)));
        }
        if let Some(n) = f.get("schedule") {
            let sp = p.key("schedule");
            if let Some(text) = r.string(n, &sp, "a cron schedule like \"0 3 * * *\"") {
                match Cron::parse(&text) {
                    Ok(c) => out.push(Trigger::Schedule(c)),
                    Err(m) => r.error(n, &sp, m),
                }
            }
        }
        r.unknown_keys(&mut f, &["push", "tag", "schedule"], "a trigger");
    }
    out
}

/// A stage and, for the cross-checks, the node and path of each action read.
type StageRead<'n> = (Stage, Vec<(&'n Node, KeyPath)>);

fn stage<'n>(r: &mut Reader, node: &'n Node, path: &KeyPath) -> Option<StageRead<'n>> {
    let mut f = r.mapping(node, path, "a stage")?;
    let name = match f.get("name") {
        Some(n) => r.string(n, &path.key("name"), "a stage name"),
        None => {
            r.error(node, path, "missing `name` for this stage");
            None
        }
    };
    let on_failure = match f.get("on-failure") {
        Some(n) => match r
            .choice(
                n,
                &path.key("on-failure"),
                &["fail", "rollback"],
                "stage on-failure",
            )
            .as_deref()
        {
            Some("rollback") => StageFailure::Rollback,
            _ => StageFailure::Fail,
        },
        None => StageFailure::Fail,
    };
    let mut actions = Vec::new();
    let mut action_nodes = Vec::new();
    match f.get("actions") {
        Some(n) => {
            let ap = path.key("actions");
            let items = r.sequence(n, &ap, "actions");
            if items.is_empty() {
                r.error(n, &ap, "a stage needs at least one action");
            }
            for (i, item) in items.iter().enumerate() {
                if let Some(a) = action(r, item, &ap.index(i)) {
                    action_nodes.push((item, ap.index(i)));
                    actions.push(a);
                }
            }
        }
        None => r.error(node, path, "missing `actions` for this stage"),
    }
    r.unknown_keys(&mut f, &["name", "on-failure", "actions"], "a stage");
    Some((
        Stage {
            name: name?,
            on_failure,
            actions,
        },
        action_nodes,
    ))
}

const COMMON_ACTION_KEYS: [&str; 7] = [
    "name",
    "type",
    "run-order",
    "inputs",
    "outputs",
    "namespace",
    "timeout",
];

fn action(r: &mut Reader, node: &Node, path: &KeyPath) -> Option<Action> {
    let mut f = r.mapping(node, path, "an action")?;
    let name = match f.get("name") {
        Some(n) => r.string(n, &path.key("name"), "an action name"),
        None => {
            r.error(node, path, "missing `name` for this action");
            None
        }
    };
    let kind = match f.get("type") {
        Some(n) => r.choice(n, &path.key("type"), &action_types(), "action type"),
        None => {
            r.error(
                node,
                path,
                format!(
                    "missing `type`; expected one of: {}",
                    action_types().join(", ")
                ),
            );
            None
        }
    };
    let kind = match kind.as_deref().map(ActionType::parse) {
        Some(Ok(ActionType::Invoke)) => {
            r.error(
                f.get("type")?,
                &path.key("type"),
                "action type `invoke` is reserved and not supported yet",
            );
            ActionType::Invoke
        }
        Some(Ok(kind)) => kind,
        _ => {
            r.unknown_keys(&mut f, &[], "an action");
            return None;
        }
    };
    let run_order = f
        .get("run-order")
        .and_then(|n| r.integer(n, &path.key("run-order"), 1..=999, "a run order"))
        .unwrap_or(1);
    let inputs = f
        .get("inputs")
        .map(|n| r.strings(n, &path.key("inputs"), "artifact names", true))
        .unwrap_or_default();
    let outputs = f
        .get("outputs")
        .map(|n| r.strings(n, &path.key("outputs"), "artifact names", true))
        .unwrap_or_default();
    let namespace = f
        .get("namespace")
        .and_then(|n| r.string(n, &path.key("namespace"), "a namespace"));
    let timeout = f
        .get("timeout")
        .and_then(|n| strategy::duration(r, n, &path.key("timeout")));
    let mut known: Vec<&str> = COMMON_ACTION_KEYS.to_vec();
    let mut a = Action {
        name: name.unwrap_or_default(),
        r#type: kind,
        run_order,
        inputs,
        outputs,
        namespace,
        timeout,
        buildspec: None,
        environment: None,
        strategy: None,
        message: None,
        commands: Vec::new(),
    };
    match kind {
        ActionType::Build | ActionType::Test => {
            known.push("buildspec");
            a.buildspec = Some(match f.get("buildspec") {
                Some(n) if matches!(n.value, Value::Mapping(_)) => {
                    let b = buildspec::read(r, n, &path.key("buildspec"))?;
                    BuildspecSource::Inline(Box::new(b))
                }
                Some(n) => BuildspecSource::Path(r.string(
                    n,
                    &path.key("buildspec"),
                    "a buildspec path or an inline buildspec",
                )?),
                // CodeBuild's default.
                None => BuildspecSource::Path("buildspec.yml".to_string()),
            });
        }
        ActionType::Deploy => {
            known.extend(["environment", "strategy"]);
            match f.get("environment") {
                Some(n) => {
                    a.environment = r.string(n, &path.key("environment"), "an environment name")
                }
                None => r.error(
                    node,
                    path,
                    "a deploy action needs `environment:` naming where it deploys",
                ),
            }
            a.strategy = f
                .get("strategy")
                .and_then(|n| strategy::read(r, n, &path.key("strategy")));
        }
        ActionType::Approval => {
            known.push("message");
            a.message = f
                .get("message")
                .and_then(|n| r.string(n, &path.key("message"), "a message"));
        }
        ActionType::Command => {
            known.extend(["commands", "environment"]);
            match f.get("commands") {
                Some(n) => {
                    a.commands = buildspec::commands(r, n, &path.key("commands"))
                        .into_iter()
                        .map(|c| c.text)
                        .collect();
                }
                None => r.error(node, path, "a command action needs `commands:`"),
            }
            a.environment = f
                .get("environment")
                .and_then(|n| r.string(n, &path.key("environment"), "an environment name"));
        }
        ActionType::Source | ActionType::Invoke => {}
    }
    r.unknown_keys(&mut f, &known, &format!("a {} action", kind.as_str()));
    Some(a)
}
