//! Who imports whom in `crates/core/src`, computed from the source text.
//!
//! Every `.rs` file belongs to the top-level module named by the first
//! component of its path (`lib.rs` is the crate root). A file references
//! another top-level module when its code (not its comments, not its string
//! literals) names it through `crate::X`, inside a `use crate::{a, b}`
//! group, or through a `super::` chain that climbs out of its own top-level
//! module. References made only by test code (`#[cfg(test)]` items, inline
//! `mod tests { .. }` and files declared by a `#[cfg(test)] mod x;`) are
//! kept apart: they are not part of the library's module graph.
//!
//! Included (with `tokens.rs`, the tokenizer it reads source with) by the
//! architecture test (`tests/architecture.rs`) and by the example that
//! prints the matrix (`cargo run -q -p slipway-core --example module-deps
//! [SRC_DIR]`), so both always compute the same thing. Plain Rust, no
//! dependencies.

// Each includer uses a different part of this file.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "tokens.rs"]
mod tokens;
pub use tokens::*;

/// The name used for `lib.rs` (and for `crate::x` when `x` is not a module).
pub const ROOT: &str = "lib";

/// The test-only helpers module: it may import anything, and only test code
/// may import it.
pub const TESTING: &str = "testing";

/// The layers, bottom to top, and why each module sits where it does. A
/// module may import modules of its own layer or below, never above; the
/// crate root (`lib.rs`) sits on top of everything and only declares them.
pub const LAYERS: &[(&str, usize, &str)] = &[
    (
        "clock",
        0,
        "time itself: Millis, the Clock trait, the real wall clock; every layer reads now from it",
    ),
    (
        "model",
        0,
        "the vocabulary: statuses, closed sets, records, settings names, engine requests; data only",
    ),
    (
        "events",
        0,
        "the event types every transport delivers; data built from model and clock",
    ),
    (
        "wake",
        0,
        "the cross-process doorbell (a file under <data dir>/wake/); knows no record",
    ),
    (
        "spec",
        1,
        "parsing users' files into typed structs; pure, so anything may read a spec",
    ),
    (
        "store",
        1,
        "SQLite, the only SQL; stores model records and must not know who writes them",
    ),
    (
        "platform",
        1,
        "what differs between operating systems, one function per concern; no policy",
    ),
    (
        "creds",
        2,
        "profiles, keychain secrets and STS sessions; uses the store, never a build or deploy",
    ),
    (
        "build",
        2,
        "the buildspec runner; handed a job, never touches the store or the engine",
    ),
    (
        "watch",
        2,
        "git heads, snapshots and the watcher; hands run requests out instead of holding the engine",
    ),
    (
        "repos",
        2,
        "adding and trusting repositories: the store plus git",
    ),
    (
        "demo",
        2,
        "writes the demo repository and its records; below the engine, which it never drives",
    ),
    (
        "deploy",
        3,
        "providers, strategies, the router and rollbacks; runs what the engine asks, records deployments",
    ),
    (
        "engine",
        4,
        "executions' state machine; drives build, deploy, creds and watch",
    ),
    (
        "api",
        5,
        "the command table: the one surface the transports expose; nothing below may import it",
    ),
];

/// The layer of `module`, when it has one (`lib`, `testing` and modules not
/// in [`LAYERS`] have none).
pub fn layer(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .find(|(name, _, _)| *name == module)
        .map(|(_, layer, _)| *layer)
}

/// One reference from a file to another top-level module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    /// The top-level module named.
    pub module: String,
    /// 1-based line of the reference.
    pub line: usize,
    /// Whether the reference sits in test-only code.
    pub test: bool,
}

/// One analysed source file.
#[derive(Debug, Clone)]
pub struct FileInfo {
    /// Path relative to the source directory, with `/` separators.
    pub path: String,
    /// Its top-level module ([`ROOT`] for `lib.rs`).
    pub module: String,
    /// Whether the whole file is test-only (declared by `#[cfg(test)] mod`).
    pub test_file: bool,
    /// References to other top-level modules (never to its own).
    pub refs: Vec<Ref>,
    /// The file's tokens, for rules that look at code rather than imports.
    pub tokens: Vec<Token>,
    /// For each token, whether it sits in test-only code.
    pub token_test: Vec<bool>,
}

/// Every file of a source directory, analysed.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub files: Vec<FileInfo>,
}

/// The module path of a file relative to the source directory:
/// `lib.rs` → `[]`, `deploy/mod.rs` → `[deploy]`,
/// `deploy/local/rollout.rs` → `[deploy, local, rollout]`.
pub fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.strip_suffix(".rs").unwrap_or(&last);
    if !(stem == "mod" || (stem == "lib" && parts.is_empty())) {
        parts.push(stem.to_string());
    }
    parts
}

/// The references a file's tokens make to top-level modules other than its
/// own, given the file's module path ([`module_path`]).
pub fn references(tokens: &[Token], path: &[String], test: &[bool]) -> Vec<Ref> {
    let own = path.first().map(String::as_str).unwrap_or(ROOT);
    let mut refs = Vec::new();
    // The module path at each `{` depth, for inline `mod x { .. }`.
    let mut scopes: Vec<(usize, Vec<String>)> = vec![(0, path.to_vec())];
    let mut depth = 0usize;
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if t.is_punct('{') {
            depth += 1;
            if let Some(name) = pending_mod.take() {
                let mut p = scopes.last().map(|s| s.1.clone()).unwrap_or_default();
                p.push(name);
                scopes.push((depth, p));
            }
            i += 1;
            continue;
        }
        if t.is_punct('}') {
            if scopes.len() > 1 && scopes.last().map(|s| s.0) == Some(depth) {
                scopes.pop();
            }
            depth = depth.saturating_sub(1);
            i += 1;
            continue;
        }
        if t.is_punct(';') {
            pending_mod = None;
        }
        if t.is_ident("mod") {
            if let Some(name) = tokens.get(i + 1).and_then(Token::ident) {
                pending_mod = Some(name.to_string());
            }
            i += 1;
            continue;
        }
        // Only the start of a path counts: not `x::crate`, not `$crate` in
        // another crate's macro (ours names our own modules, which is right).
        let after_path = i > 0 && tokens[i - 1].tok == Tok::Path;
        if after_path {
            i += 1;
            continue;
        }
        let scope = scopes.last().map(|s| s.1.clone()).unwrap_or_default();
        let is_test = test.get(i).copied().unwrap_or(false);
        let (named, next) = if t.is_ident("crate") && is_path_sep(tokens, i + 1) {
            (path_heads(tokens, i + 2), i + 2)
        } else if t.is_ident("super") && is_path_sep(tokens, i + 1) {
            // Climb one module per `super::`.
            let mut climbed = scope.len().saturating_sub(1);
            let mut j = i + 2;
            while tokens.get(j).is_some_and(|t| t.is_ident("super")) && is_path_sep(tokens, j + 1) {
                climbed = climbed.saturating_sub(1);
                j += 2;
            }
            if climbed == 0 {
                (path_heads(tokens, j), j)
            } else {
                (Vec::new(), j)
            }
        } else if t.is_ident("self") && is_path_sep(tokens, i + 1) && scope.is_empty() {
            (path_heads(tokens, i + 2), i + 2)
        } else {
            (Vec::new(), i + 1)
        };
        for (name, line) in named {
            let module = if name == "self" {
                ROOT.to_string()
            } else {
                name
            };
            if module != own {
                refs.push(Ref {
                    module,
                    line,
                    test: is_test,
                });
            }
        }
        i = next;
    }
    refs
}

fn is_path_sep(tokens: &[Token], i: usize) -> bool {
    tokens.get(i).is_some_and(|t| t.tok == Tok::Path)
}

/// The first path segments after `crate::` at `i`: one name, or every entry
/// of a `{a, b::c, d::{e, f}}` group (a glob `*` names nothing).
fn path_heads(tokens: &[Token], i: usize) -> Vec<(String, usize)> {
    let Some(t) = tokens.get(i) else {
        return Vec::new();
    };
    if let Some(name) = t.ident() {
        return vec![(name.to_string(), t.line)];
    }
    if !t.is_punct('{') {
        return Vec::new();
    }
    let close = matching(tokens, i, '{', '}');
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect_head = true;
    for t in &tokens[i + 1..close] {
        if t.is_punct('{') {
            depth += 1;
        } else if t.is_punct('}') {
            depth -= 1;
        } else if depth == 0 && t.is_punct(',') {
            expect_head = true;
        } else if depth == 0 && expect_head {
            if let Some(name) = t.ident() {
                heads.push((name.to_string(), t.line));
            }
            expect_head = false;
        }
    }
    heads
}

/// Analyses one file's text. `rel` is its path relative to the source
/// directory (`deploy/local.rs`).
pub fn analyse_source(rel: &str, text: &str) -> FileInfo {
    let tokens = tokenize(text);
    let token_test = test_regions(&tokens);
    let path = module_path(rel);
    let refs = references(&tokens, &path, &token_test);
    FileInfo {
        path: rel.to_string(),
        module: path.first().cloned().unwrap_or_else(|| ROOT.to_string()),
        test_file: false,
        refs,
        tokens,
        token_test,
    }
}

/// Analyses every `.rs` file under `src` (a `crates/core/src` directory).
pub fn analyse(src: &Path) -> std::io::Result<Analysis> {
    let mut paths = Vec::new();
    collect(src, &mut paths)?;
    paths.sort();
    let mut files = Vec::new();
    for p in &paths {
        let rel = p
            .strip_prefix(src)
            .unwrap_or(p)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let text = std::fs::read_to_string(p)?;
        files.push(analyse_source(&rel, &text));
    }
    // Files declared by `#[cfg(test)] mod x;` are test code through and through.
    let mut test_files = BTreeSet::new();
    for f in &files {
        for (i, t) in f.tokens.iter().enumerate() {
            if !t.is_ident("mod") || !f.token_test[i] {
                continue;
            }
            let (Some(name), Some(semi)) = (
                f.tokens.get(i + 1).and_then(Token::ident),
                f.tokens.get(i + 2),
            ) else {
                continue;
            };
            if semi.is_punct(';') {
                let dir = child_dir(&f.path);
                test_files.insert(format!("{dir}{name}.rs"));
                test_files.insert(format!("{dir}{name}/mod.rs"));
            }
        }
    }
    // Children of test files are test files too.
    let mut changed = true;
    while changed {
        changed = false;
        for f in &files {
            let under_test = test_files.iter().any(|t| {
                let dir = child_dir(t);
                f.path != *t && !dir.is_empty() && f.path.starts_with(&dir)
            });
            if under_test && test_files.insert(f.path.clone()) {
                changed = true;
            }
        }
    }
    for f in &mut files {
        if test_files.contains(&f.path) {
            f.test_file = true;
            f.token_test.iter_mut().for_each(|t| *t = true);
            f.refs.iter_mut().for_each(|r| r.test = true);
        }
    }
    Ok(Analysis { files })
}

/// The directory (with a trailing `/`, or empty) holding the files of the
/// modules a file declares with `mod x;`.
fn child_dir(rel: &str) -> String {
    let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel));
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    if file == "mod.rs" || (dir.is_empty() && file == "lib.rs") {
        prefix
    } else {
        format!("{prefix}{}/", file.trim_end_matches(".rs"))
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Importing module → imported module → the files of the importer that
/// reference it.
pub type Matrix = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

impl Analysis {
    /// Every top-level module, in layer order (unknown ones, `testing` and
    /// the root last).
    pub fn modules(&self) -> Vec<String> {
        let mut all: BTreeSet<String> = self.files.iter().map(|f| f.module.clone()).collect();
        for f in &self.files {
            all.extend(f.refs.iter().map(|r| r.module.clone()));
        }
        let mut out: Vec<String> = LAYERS
            .iter()
            .map(|(m, _, _)| m.to_string())
            .filter(|m| all.contains(m))
            .collect();
        let mut rest: Vec<String> = all
            .into_iter()
            .filter(|m| layer(m).is_none() && m != TESTING && m != ROOT)
            .collect();
        rest.sort();
        out.extend(rest);
        for m in [TESTING, ROOT] {
            if self.files.iter().any(|f| f.module == m)
                || self
                    .files
                    .iter()
                    .any(|f| f.refs.iter().any(|r| r.module == m))
            {
                out.push(m.to_string());
            }
        }
        out
    }

    /// The matrix of references, from library code (`test = false`) or
    /// from test-only code (`test = true`).
    pub fn matrix(&self, test: bool) -> Matrix {
        let mut m = Matrix::new();
        for f in &self.files {
            for r in f.refs.iter().filter(|r| r.test == test) {
                m.entry(f.module.clone())
                    .or_default()
                    .entry(r.module.clone())
                    .or_default()
                    .insert(f.path.clone());
            }
        }
        m
    }

    /// The module graph of library code: importer → imported.
    pub fn graph(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.matrix(false)
            .into_iter()
            .map(|(from, to)| (from, to.into_keys().collect()))
            .collect()
    }

    /// The import cycles of library code: strongly connected components of
    /// more than one module, each sorted, in a stable order.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        strongly_connected(&self.graph())
            .into_iter()
            .filter(|c| c.len() > 1)
            .collect()
    }

    /// The matrix and the cycles as the example prints them.
    pub fn render(&self) -> String {
        let modules = self.modules();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Module dependencies: row = importing module, column = imported module,"
        );
        let _ = writeln!(
            out,
            "cell = files of the row module that reference the column module."
        );
        for (title, test) in [("Library code", false), ("Test-only code", true)] {
            let m = self.matrix(test);
            let _ = writeln!(out, "\n{title}:\n");
            render_matrix(&mut out, &modules, &m);
        }
        let cycles = self.cycles();
        let _ = writeln!(out, "\nImport cycles (library code):");
        if cycles.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for c in &cycles {
            let _ = writeln!(out, "  {}", c.join(" <-> "));
            let g = self.matrix(false);
            for from in c {
                for to in c {
                    if let Some(files) = g.get(from).and_then(|row| row.get(to)) {
                        let files: Vec<&str> = files.iter().map(String::as_str).collect();
                        let _ = writeln!(out, "    {from} -> {to}: {}", files.join(", "));
                    }
                }
            }
        }
        out
    }
}

fn render_matrix(out: &mut String, modules: &[String], m: &Matrix) {
    let name_w = modules.iter().map(String::len).max().unwrap_or(4);
    let _ = write!(out, "{:name_w$} ", "");
    for c in modules {
        let _ = write!(out, " {c}");
    }
    let _ = writeln!(out);
    for r in modules {
        let _ = write!(out, "{r:name_w$} ");
        for c in modules {
            let cell = if r == c {
                ".".to_string()
            } else {
                match m.get(r).and_then(|row| row.get(c)) {
                    Some(files) => files.len().to_string(),
                    None => String::new(),
                }
            };
            let w = c.len();
            let _ = write!(out, " {cell:>w$}");
        }
        let _ = writeln!(out);
    }
}

/// Tarjan's algorithm; each component sorted, components sorted.
pub fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        on_stack: BTreeSet<&'a str>,
        stack: Vec<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(edges) = s.graph.get(v) {
            for w in edges {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low[v];
                    s.low.insert(v, lv.min(lw));
                } else if s.on_stack.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low[v];
                    s.low.insert(v, lv.min(iw));
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            comp.sort();
            s.out.push(comp);
        }
    }
    let mut nodes: BTreeSet<&str> = graph.keys().map(String::as_str).collect();
    for edges in graph.values() {
        nodes.extend(edges.iter().map(String::as_str));
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        on_stack: BTreeSet::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in nodes {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}
