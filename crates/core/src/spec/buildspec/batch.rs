//! `batch`: CodeBuild batch builds (build-list, build-matrix, build-graph,
//! build-fanout). Grammar and cross-references only (a `depend-on` must name
//! a build of the same graph); scheduling belongs to the build runner.

use serde::Serialize;

use crate::spec::read::{KeyPath, Reader};
use crate::spec::yaml::Node;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Batch {
    pub fast_fail: Option<bool>,
    pub kind: Option<BatchKind>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BatchKind {
    BuildList(Vec<BatchBuild>),
    BuildGraph(Vec<BatchBuild>),
    BuildMatrix(Box<BuildMatrix>),
    BuildFanout {
        parallelism: Option<u64>,
        ignore_failure: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchBuild {
    pub identifier: String,
    pub buildspec: Option<String>,
    pub env: BatchEnv,
    pub debug_session: bool,
    pub ignore_failure: bool,
    /// build-graph only.
    pub depend_on: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BatchEnv {
    pub compute_type: Vec<String>,
    pub fleet: Option<String>,
    pub image: Vec<String>,
    pub privileged_mode: Option<bool>,
    pub r#type: Option<String>,
    /// A dynamic matrix gives several values per variable.
    pub variables: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BuildMatrix {
    pub ignore_failure: bool,
    pub static_env: BatchEnv,
    pub buildspecs: Vec<String>,
    pub dynamic_env: BatchEnv,
}

const BATCH_KEYS: [&str; 5] = [
    "fast-fail",
    "build-list",
    "build-matrix",
    "build-graph",
    "build-fanout",
];

pub(super) fn read(r: &mut Reader, node: &Node, path: &KeyPath) -> Option<Batch> {
    let mut f = r.mapping(node, path, "batch")?;
    let mut batch = Batch {
        fast_fail: None,
        kind: None,
    };
    if let Some(n) = f.get("fast-fail") {
        batch.fast_fail = r.bool(n, &path.key("fast-fail"), "fast-fail");
    }
    let mut kinds = Vec::new();
    if let Some(n) = f.get("build-list") {
        kinds.push((
            n,
            BatchKind::BuildList(builds(r, n, &path.key("build-list"), false)),
        ));
    }
    if let Some(n) = f.get("build-graph") {
        kinds.push((
            n,
            BatchKind::BuildGraph(builds(r, n, &path.key("build-graph"), true)),
        ));
    }
    if let Some(n) = f.get("build-matrix") {
        kinds.push((
            n,
            BatchKind::BuildMatrix(Box::new(matrix(r, n, &path.key("build-matrix")))),
        ));
    }
    if let Some(n) = f.get("build-fanout") {
        let p = path.key("build-fanout");
        let mut parallelism = None;
        let mut ignore_failure = false;
        if let Some(mut g) = r.mapping(n, &p, "build-fanout") {
            if let Some(v) = g.get("parallelism") {
                parallelism = r.integer(v, &p.key("parallelism"), 1..=100, "parallelism");
            }
            if let Some(v) = g.get("ignore-failure") {
                ignore_failure = r
                    .bool(v, &p.key("ignore-failure"), "ignore-failure")
                    .unwrap_or(false);
            }
            r.unknown_keys(&mut g, &["parallelism", "ignore-failure"], "build-fanout");
        }
        kinds.push((
            n,
            BatchKind::BuildFanout {
                parallelism,
                ignore_failure,
            },
        ));
    }
    if kinds.len() > 1 {
        let n = kinds[1].0;
        r.error(
            n,
            path,
            "a batch has one of build-list, build-matrix, build-graph or build-fanout, not several",
        );
    }
    batch.kind = kinds.into_iter().next().map(|(_, k)| k);
    r.unknown_keys(&mut f, &BATCH_KEYS, "batch");
    Some(batch)
}

fn builds(r: &mut Reader, node: &Node, path: &KeyPath, graph: bool) -> Vec<BatchBuild> {
    let mut out: Vec<BatchBuild> = Vec::new();
    let mut depends = Vec::new();
    for (i, item) in r.sequence(node, path, "builds").iter().enumerate() {
        let p = path.index(i);
        let Some(mut f) = r.mapping(item, &p, "a batch build") else {
            continue;
        };
        let identifier = match f.get("identifier") {
            Some(n) => r.string(n, &p.key("identifier"), "an identifier"),
            None => {
                r.error(
                    item,
                    &p,
                    "missing `identifier`: every batch build needs one",
                );
                None
            }
        };
        let mut b = BatchBuild {
            identifier: identifier.unwrap_or_default(),
            buildspec: None,
            env: BatchEnv::default(),
            debug_session: false,
            ignore_failure: false,
            depend_on: Vec::new(),
        };
        if let Some(n) = f.get("buildspec") {
            b.buildspec = r.string(n, &p.key("buildspec"), "a buildspec path");
        }
        if let Some(n) = f.get("env") {
            b.env = env(r, n, &p.key("env"), false);
        }
        if let Some(n) = f.get("debug-session") {
            b.debug_session = r
                .bool(n, &p.key("debug-session"), "debug-session")
                .unwrap_or(false);
        }
        if let Some(n) = f.get("ignore-failure") {
            b.ignore_failure = r
                .bool(n, &p.key("ignore-failure"), "ignore-failure")
                .unwrap_or(false);
        }
        let mut known = vec![
            "identifier",
            "buildspec",
            "env",
            "debug-session",
            "ignore-failure",
        ];
        if graph {
            known.push("depend-on");
            if let Some(n) = f.get("depend-on") {
                b.depend_on = r.strings(n, &p.key("depend-on"), "build identifiers", true);
                depends.push((n, p.key("depend-on"), b.depend_on.clone()));
            }
        }
        r.unknown_keys(&mut f, &known, "a batch build");
        if !b.identifier.is_empty() && out.iter().any(|o| o.identifier == b.identifier) {
            r.error(
                item,
                &p,
                format!("identifier `{}` is used twice in this batch", b.identifier),
            );
        }
        out.push(b);
    }
    for (n, p, names) in depends {
        for d in names {
            if !out.iter().any(|b| b.identifier == d) {
                r.error(
                    n,
                    &p,
                    format!("depend-on names `{d}`, which is no build identifier of this graph"),
                );
            }
        }
    }
    out
}

const ENV_KEYS: [&str; 6] = [
    "compute-type",
    "fleet",
    "image",
    "privileged-mode",
    "type",
    "variables",
];

/// A batch build's environment; in a dynamic matrix each value may be a list.
fn env(r: &mut Reader, node: &Node, path: &KeyPath, lists: bool) -> BatchEnv {
    let mut e = BatchEnv::default();
    let Some(mut f) = r.mapping(node, path, "a batch build environment") else {
        return e;
    };
    if let Some(n) = f.get("compute-type") {
        e.compute_type = r.strings(n, &path.key("compute-type"), "compute types", true);
    }
    if let Some(n) = f.get("fleet") {
        e.fleet = r.string(n, &path.key("fleet"), "a fleet name");
    }
    if let Some(n) = f.get("image") {
        e.image = r.strings(n, &path.key("image"), "images", true);
    }
    if let Some(n) = f.get("privileged-mode") {
        e.privileged_mode = r.bool(n, &path.key("privileged-mode"), "privileged-mode");
    }
    if let Some(n) = f.get("type") {
        e.r#type = r.string(n, &path.key("type"), "an environment type");
    }
    if let Some(n) = f.get("variables") {
        let p = path.key("variables");
        if let Some(mut v) = r.mapping(n, &p, "variables") {
            for entry in v.rest() {
                let Some(k) = entry.key.text() else { continue };
                let values = if lists {
                    r.strings(&entry.value, &p.key(k), "values", true)
                } else {
                    r.string(&entry.value, &p.key(k), "a value")
                        .into_iter()
                        .collect()
                };
                e.variables.push((k.to_string(), values));
            }
        }
    }
    r.unknown_keys(&mut f, &ENV_KEYS, "a batch build environment");
    e
}

fn matrix(r: &mut Reader, node: &Node, path: &KeyPath) -> BuildMatrix {
    let mut m = BuildMatrix::default();
    let Some(mut f) = r.mapping(node, path, "build-matrix") else {
        return m;
    };
    if let Some(n) = f.get("static") {
        let p = path.key("static");
        if let Some(mut s) = r.mapping(n, &p, "static") {
            if let Some(v) = s.get("ignore-failure") {
                m.ignore_failure = r
                    .bool(v, &p.key("ignore-failure"), "ignore-failure")
                    .unwrap_or(false);
            }
            if let Some(v) = s.get("env") {
                m.static_env = env(r, v, &p.key("env"), false);
            }
            r.unknown_keys(&mut s, &["ignore-failure", "env"], "build-matrix.static");
        }
    }
    if let Some(n) = f.get("dynamic") {
        let p = path.key("dynamic");
        if let Some(mut d) = r.mapping(n, &p, "dynamic") {
            if let Some(v) = d.get("buildspec") {
                m.buildspecs = r.strings(v, &p.key("buildspec"), "buildspec paths", true);
            }
            if let Some(v) = d.get("env") {
                m.dynamic_env = env(r, v, &p.key("env"), true);
            }
            r.unknown_keys(&mut d, &["buildspec", "env"], "build-matrix.dynamic");
        }
    }
    r.unknown_keys(&mut f, &["static", "dynamic"], "build-matrix");
    m
}
