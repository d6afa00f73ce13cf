//! The checks that span a whole pipeline file: artifacts flow forward,
//! `#{Namespace.NAME}` references name namespaces defined earlier, deploy
//! actions name environments that exist, names are unique where they must
//! be. Runs after every part was read, on the typed pipeline plus the nodes
//! (for positions).

use std::collections::HashMap;

use super::{ActionType, BuildspecSource, Pipeline, SOURCE_ARTIFACT};
use crate::spec::read::{suggest, KeyPath, Reader};
use crate::spec::yaml::{Node, Style, Value};

/// Where a stage and its actions were read from.
pub(super) struct StageNodes<'n> {
    pub node: &'n Node,
    pub path: KeyPath,
    pub actions: Vec<(&'n Node, KeyPath)>,
}

/// Namespaces every pipeline has: its own `variables`, the `Source` stage's
/// revision variables, and `rollback` (the revision a rollback returns to,
/// usable in an environment's rollback commands).
pub const VARIABLES_NAMESPACE: &str = "variables";
pub const SOURCE_NAMESPACE: &str = "Source";
pub const ROLLBACK_NAMESPACE: &str = "rollback";
/// `#{deploy.VERSION}`: the revision being deployed, in an environment's
/// commands and hooks.
pub const DEPLOY_NAMESPACE: &str = "deploy";
/// CodePipeline's own namespace: the execution itself.
pub const EXECUTION_NAMESPACE: &str = "codepipeline";
/// What `#{codepipeline.NAME}` offers.
pub const EXECUTION_VARIABLES: [&str; 1] = ["PipelineExecutionId"];
/// What the implicit source stage exports as `#{Source.NAME}`.
pub const SOURCE_VARIABLES: [&str; 6] = [
    "COMMIT_ID",
    "BRANCH_NAME",
    "TAG_NAME",
    "COMMIT_MESSAGE",
    "AUTHOR_DATE",
    "REPOSITORY_NAME",
];

/// One action's place in the pipeline: stage index and run order.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
struct Place(usize, u64);

pub(super) fn run(
    r: &mut Reader,
    p: &Pipeline,
    nodes: &[StageNodes<'_>],
    environments: Option<&Node>,
) {
    let mut stage_names: HashMap<&str, ()> = HashMap::new();
    // name -> (place, action name) of whoever outputs it / defines it.
    let mut outputs: HashMap<&str, (Place, &str)> = HashMap::new();
    let mut namespaces: HashMap<&str, (Place, &str)> = HashMap::new();
    for (s, (stage, sn)) in p.stages.iter().zip(nodes).enumerate() {
        if stage_names.insert(&stage.name, ()).is_some() {
            r.error(
                sn.node,
                &sn.path.key("name"),
                format!("stage name `{}` is used twice", stage.name),
            );
        }
        let mut action_names: HashMap<&str, ()> = HashMap::new();
        for (a, (node, path)) in stage.actions.iter().zip(&sn.actions) {
            if !a.name.is_empty() && action_names.insert(&a.name, ()).is_some() {
                r.error(
                    node,
                    &path.key("name"),
                    format!(
                        "action name `{}` is used twice in stage `{}`",
                        a.name, stage.name
                    ),
                );
            }
            let place = Place(s, a.run_order);
            for o in &a.outputs {
                if let Some((_, other)) = outputs.insert(o, (place, &a.name)) {
                    r.error(
                        node,
                        &path.key("outputs"),
                        format!("artifact `{o}` is already an output of action `{other}`"),
                    );
                }
                if o == SOURCE_ARTIFACT {
                    r.error(node, &path.key("outputs"), format!("`{SOURCE_ARTIFACT}` names the source revision's artifact; choose another name"));
                }
            }
            if let Some(ns) = &a.namespace {
                if [
                    VARIABLES_NAMESPACE,
                    SOURCE_NAMESPACE,
                    ROLLBACK_NAMESPACE,
                    DEPLOY_NAMESPACE,
                ]
                .contains(&ns.as_str())
                {
                    r.error(
                        node,
                        &path.key("namespace"),
                        format!("namespace `{ns}` is built in; choose another name"),
                    );
                } else if let Some((_, other)) = namespaces.insert(ns, (place, &a.name)) {
                    r.error(
                        node,
                        &path.key("namespace"),
                        format!("namespace `{ns}` is already used by action `{other}`"),
                    );
                }
            }
        }
    }
    let env_names: Vec<&str> = p.environments.iter().map(|e| e.name.as_str()).collect();
    // The first action that uses each environment decides which namespaces
    // the environment's own commands may reference.
    let mut env_first_use: HashMap<&str, Place> = HashMap::new();
    for (s, (stage, sn)) in p.stages.iter().zip(nodes).enumerate() {
        for (a, (node, path)) in stage.actions.iter().zip(&sn.actions) {
            let place = Place(s, a.run_order);
            for input in &a.inputs {
                if input == SOURCE_ARTIFACT {
                    continue;
                }
                match outputs.get(input.as_str()) {
                    Some((at, _)) if *at < place && (at.0 < s || at.1 < a.run_order) => {}
                    Some((_, producer)) => r.error(node, &path.key("inputs"), format!(
                        "input `{input}` is an output of `{producer}`, which does not run before this action \
                         (it must be in an earlier stage, or have a lower run-order in this stage)"
                    )),
                    None => {
                        let mut known: Vec<&str> = outputs.keys().copied().collect();
                        known.push(SOURCE_ARTIFACT);
                        let mut m = format!("input `{input}` is not an output of any earlier action");
                        if let Some(s) = suggest(input, &known) {
                            m.push_str(&format!("; did you mean `{s}`?"));
                        }
                        r.error(node, &path.key("inputs"), m);
                    }
                }
            }
            if let Some(env) = &a.environment {
                if env_names.contains(&env.as_str()) {
                    env_first_use.entry(env).or_insert(place);
                } else {
                    let mut m = format!("environment `{env}` is not defined under `environments:`");
                    if let Some(s) = suggest(env, &env_names) {
                        m.push_str(&format!("; did you mean `{s}`?"));
                    }
                    r.error(node, &path.key("environment"), m);
                }
            }
            let exported = exported_by(p, &namespaces);
            let visible = |ns: &str| {
                namespaces
                    .get(ns)
                    .is_some_and(|(at, _)| at.0 < s || (at.0 == s && at.1 < a.run_order))
            };
            for reference in references(node, Some("buildspec"), path) {
                check_reference(r, p, &reference, &visible, &exported, false);
            }
            if a.r#type == ActionType::Approval && a.timeout.is_some_and(|t| t.seconds > 7 * 86_400)
            {
                r.error(
                    node,
                    &path.key("timeout"),
                    "an approval waits at most 7 days (as in CodePipeline)",
                );
            }
        }
    }
    if let Some(Value::Mapping(entries)) = environments.map(|n| &n.value) {
        let exported = exported_by(p, &namespaces);
        for e in entries {
            let Some(name) = e.key.text() else { continue };
            let first = env_first_use.get(name).copied();
            let visible = |ns: &str| match (namespaces.get(ns), first) {
                (Some((at, _)), Some(use_at)) => {
                    at.0 < use_at.0 || (at.0 == use_at.0 && at.1 < use_at.1)
                }
                (Some(_), None) => true,
                _ => false,
            };
            let path = KeyPath::root().key("environments").key(name);
            for reference in references(&e.value, None, &path) {
                check_reference(r, p, &reference, &visible, &exported, true);
            }
        }
    }
}

/// For namespaces of actions with an inline buildspec, the variables it
/// exports (a path buildspec is read at run time, so its names are unknown).
fn exported_by<'p>(
    p: &'p Pipeline,
    namespaces: &HashMap<&str, (Place, &str)>,
) -> HashMap<&'p str, Vec<&'p str>> {
    let mut out = HashMap::new();
    for a in p.stages.iter().flat_map(|s| &s.actions) {
        if let (Some(ns), Some(BuildspecSource::Inline(b))) = (&a.namespace, &a.buildspec) {
            if namespaces.contains_key(ns.as_str()) {
                out.insert(
                    ns.as_str(),
                    b.env
                        .exported_variables
                        .iter()
                        .map(String::as_str)
                        .collect(),
                );
            }
        }
    }
    out
}

struct Reference {
    namespace: String,
    name: String,
    line: usize,
    column: usize,
    path: KeyPath,
}

fn check_reference(
    r: &mut Reader,
    p: &Pipeline,
    reference: &Reference,
    visible: &dyn Fn(&str) -> bool,
    exported: &HashMap<&str, Vec<&str>>,
    in_environment: bool,
) {
    let Reference {
        namespace: ns,
        name,
        line,
        column,
        path,
    } = reference;
    let at = |r: &mut Reader, m: String| r.findings.push(*line, *column, path.as_str(), m);
    match ns.as_str() {
        VARIABLES_NAMESPACE => {
            if !p.variables.iter().any(|(k, _)| k == name) {
                let names: Vec<&str> = p.variables.iter().map(|(k, _)| k.as_str()).collect();
                let mut m = format!("`#{{variables.{name}}}` names no pipeline variable");
                if let Some(s) = suggest(name, &names) {
                    m.push_str(&format!("; did you mean `{s}`?"));
                } else {
                    m.push_str("; declare it under `variables:`");
                }
                at(r, m);
            }
        }
        SOURCE_NAMESPACE => {
            if !SOURCE_VARIABLES.contains(&name.as_str()) {
                let mut m = format!("`#{{Source.{name}}}` is not a source variable");
                match suggest(name, &SOURCE_VARIABLES) {
                    Some(s) => m.push_str(&format!("; did you mean `{s}`?")),
                    None => m.push_str(&format!(
                        "; the source exports {}",
                        SOURCE_VARIABLES.join(", ")
                    )),
                }
                at(r, m);
            }
        }
        EXECUTION_NAMESPACE => {
            if !EXECUTION_VARIABLES.contains(&name.as_str()) {
                at(
                    r,
                    format!(
                        "`#{{codepipeline.{name}}}` is not an execution variable; it offers {}",
                        EXECUTION_VARIABLES.join(", ")
                    ),
                );
            }
        }
        ROLLBACK_NAMESPACE | DEPLOY_NAMESPACE if in_environment => {}
        ROLLBACK_NAMESPACE | DEPLOY_NAMESPACE => at(
            r,
            format!("`#{{{ns}.…}}` is only available in an environment's commands"),
        ),
        _ if visible(ns) => {
            if let Some(names) = exported.get(ns.as_str()) {
                if !names.contains(&name.as_str()) {
                    at(r, format!("`#{{{ns}.{name}}}`: the buildspec of namespace `{ns}` does not export `{name}` (add it to env.exported-variables)"));
                }
            }
        }
        _ => at(
            r,
            format!(
                "`#{{{ns}.{name}}}` names no namespace defined by an earlier action; \
             set `namespace: {ns}` on an action that runs before this one"
            ),
        ),
    }
}

/// Every `#{Namespace.NAME}` in the scalars under `node`, except under the
/// key `skip` (an inline buildspec's commands are shell, not pipeline text).
fn references(node: &Node, skip: Option<&str>, path: &KeyPath) -> Vec<Reference> {
    let mut out = Vec::new();
    collect(node, skip, path, &mut out);
    out
}

fn collect(node: &Node, skip: Option<&str>, path: &KeyPath, out: &mut Vec<Reference>) {
    match &node.value {
        Value::Scalar(s) => {
            let mut rest = s.text.as_str();
            let mut offset = 0;
            while let Some(start) = rest.find("#{") {
                let after = &rest[start + 2..];
                let Some(end) = after.find('}') else { break };
                let inner = &after[..end];
                if let Some((ns, name)) = inner.split_once('.') {
                    let ident = |t: &str| {
                        !t.is_empty()
                            && t.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "_-@".contains(c))
                    };
                    if ident(ns) && ident(name) {
                        let before = offset + start;
                        // Point at the reference itself when the scalar is on
                        // one line; else at the scalar's start.
                        let single = s.style != Style::Block && !s.text[..before].contains('\n');
                        let shift = usize::from(s.style == Style::Quoted);
                        let column = if single {
                            node.column + shift + s.text[..before].chars().count()
                        } else {
                            node.column
                        };
                        out.push(Reference {
                            namespace: ns.to_string(),
                            name: name.to_string(),
                            line: node.line,
                            column,
                            path: path.clone(),
                        });
                    }
                }
                offset += start + 2 + end + 1;
                rest = &after[end + 1..];
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                collect(item, None, &path.index(i), out);
            }
        }
        Value::Mapping(entries) => {
            for e in entries {
                let key = e.key.text().unwrap_or("?");
                if Some(key) != skip {
                    collect(&e.value, None, &path.key(key), out);
                }
            }
        }
    }
}
