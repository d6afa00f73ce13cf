//! The core's architecture rules, held by a test (docs/ARCHITECTURE.md):
//!
//! - nothing outside `api` imports `crate::api`;
//! - only `clock` and `platform` read the system time;
//! - only `platform` holds `cfg(unix)`, `cfg(windows)`, `cfg(target_os ..)`
//!   and the APIs only some platforms have (`std::os::unix`, `libc`, …);
//! - the module graph has no cycle and no layer imports a layer above it
//!   (the table is [`deps::LAYERS`]); `testing` may import anything and only
//!   test code may import it.
//!
//! Each failure names the file and line. The matrix these rules read is
//! printed by `cargo run -q -p slipway-core --example module-deps`.

#[path = "architecture/deps.rs"]
mod deps;

use std::path::{Path, PathBuf};

use deps::{Analysis, FileInfo, Tok, Token};

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn analysis() -> Analysis {
    let a = deps::analyse(&src_dir()).expect("read crates/core/src");
    // Guard against a walk that silently finds nothing to check.
    let modules = a.modules();
    for (name, _, _) in deps::LAYERS {
        assert!(
            modules.iter().any(|m| m == name),
            "the analysis found no module `{name}` in {}",
            src_dir().display()
        );
    }
    a
}

fn at(f: &FileInfo, line: usize) -> String {
    format!("crates/core/src/{}:{line}", f.path)
}

fn fail_if_any(rule: &str, found: Vec<String>) {
    assert!(
        found.is_empty(),
        "{rule}:\n  {}\n(see docs/ARCHITECTURE.md)",
        found.join("\n  ")
    );
}

#[test]
fn nothing_below_the_command_table_imports_it() {
    let a = analysis();
    let mut found = Vec::new();
    for f in a.files.iter().filter(|f| f.module != "api") {
        for r in f.refs.iter().filter(|r| r.module == "api") {
            found.push(format!("{} imports crate::api", at(f, r.line)));
        }
    }
    fail_if_any("only `api` may import `crate::api`", found);
}

/// Whether tokens at `i` read the wall clock: `SystemTime::now`,
/// `Utc::now`, `Local::now` (or `today`), `chrono::offset::X::now`, or use
/// `UNIX_EPOCH` (which only computing "now" or a file time needs; the
/// clock module has helpers for both).
fn reads_system_time(t: &[Token], i: usize) -> Option<String> {
    let ident = |k: usize| t.get(k).and_then(Token::ident);
    let sep = |k: usize| t.get(k).is_some_and(|t| t.tok == Tok::Path);
    let name = ident(i)?;
    if name == "UNIX_EPOCH" {
        return Some("UNIX_EPOCH".into());
    }
    if matches!(name, "SystemTime" | "Utc" | "Local")
        && sep(i + 1)
        && matches!(ident(i + 2), Some("now") | Some("today"))
    {
        return Some(format!("{name}::{}", ident(i + 2)?));
    }
    if name == "offset" && sep(i + 1) && sep(i + 3) && ident(i + 4) == Some("now") {
        return Some(format!("offset::{}::now", ident(i + 2)?));
    }
    None
}

#[test]
fn only_the_clock_and_platform_read_the_system_time() {
    let a = analysis();
    let mut found = Vec::new();
    for f in &a.files {
        if f.path == "clock.rs" || f.module == "platform" {
            continue;
        }
        for i in 0..f.tokens.len() {
            if let Some(what) = reads_system_time(&f.tokens, i) {
                found.push(format!(
                    "{} reads the system time ({what}); take a clock::Clock or use the clock module's helpers",
                    at(f, f.tokens[i].line)
                ));
            }
        }
    }
    fail_if_any("only `clock` and `platform` read the system time", found);
}

/// The platform predicates that belong in `platform`.
const PLATFORM_PREDICATES: &[&str] = &["unix", "windows", "target_os", "target_family"];

/// `(line, predicate)` for every `cfg(..)`, `cfg!(..)` and `cfg_attr(..)`
/// whose condition names a platform.
fn platform_cfgs(t: &[Token]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for i in 0..t.len() {
        if !(t[i].is_ident("cfg") || t[i].is_ident("cfg_attr")) {
            continue;
        }
        let mut open = i + 1;
        if t.get(open).is_some_and(|t| t.is_punct('!')) {
            open += 1;
        }
        if !t.get(open).is_some_and(|t| t.is_punct('(')) {
            continue;
        }
        let mut depth = 0;
        for tok in &t[open..] {
            if tok.is_punct('(') {
                depth += 1;
            } else if tok.is_punct(')') {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            } else if let Some(p) = tok.ident().filter(|p| PLATFORM_PREDICATES.contains(p)) {
                out.push((t[i].line, p.to_string()));
                break;
            }
        }
    }
    out
}

#[test]
fn only_platform_holds_platform_conditions() {
    let a = analysis();
    let mut found = Vec::new();
    for f in a.files.iter().filter(|f| f.module != "platform") {
        for (line, predicate) in platform_cfgs(&f.tokens) {
            found.push(format!(
                "{} has a cfg on `{predicate}`; put the variants behind a function in platform/",
                at(f, line)
            ));
        }
        for (line, api) in os_apis(&f.tokens) {
            found.push(format!(
                "{} calls `{api}`, which only some platforms have; put it behind a function in platform/",
                at(f, line)
            ));
        }
    }
    fail_if_any("only `platform` holds platform conditions", found);
}

/// `(line, path)` for every use of an API only some platforms have:
/// `std::os::unix`, `std::os::windows`, `libc::`, `windows_sys::`.
fn os_apis(t: &[Token]) -> Vec<(usize, String)> {
    let ident = |k: usize| t.get(k).and_then(Token::ident);
    let sep = |k: usize| t.get(k).is_some_and(|t| t.tok == Tok::Path);
    let mut out = Vec::new();
    for i in 0..t.len() {
        let after_path = i > 0 && t[i - 1].tok == Tok::Path;
        match ident(i) {
            Some("os") if sep(i + 1) && i >= 2 && ident(i - 2) == Some("std") && after_path => {
                if let Some(os @ ("unix" | "windows")) = ident(i + 2) {
                    out.push((t[i].line, format!("std::os::{os}")));
                }
            }
            Some(name @ ("libc" | "windows_sys")) if sep(i + 1) && !after_path => {
                out.push((t[i].line, format!("{name}::")));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn the_module_graph_goes_down_the_layers_without_cycles() {
    let a = analysis();
    let mut found = Vec::new();
    for m in a.modules() {
        if deps::layer(&m).is_none() && m != deps::TESTING && m != deps::ROOT {
            found.push(format!(
                "module `{m}` has no layer: add it to LAYERS in tests/architecture/deps.rs"
            ));
        }
    }
    for f in &a.files {
        if f.module == deps::TESTING || f.module == deps::ROOT {
            continue;
        }
        for r in &f.refs {
            if r.module == deps::TESTING {
                if !r.test {
                    found.push(format!(
                        "{} imports `testing` outside #[cfg(test)] code",
                        at(f, r.line)
                    ));
                }
                continue;
            }
            if let (Some(from), Some(to)) = (deps::layer(&f.module), deps::layer(&r.module)) {
                if to > from {
                    found.push(format!(
                        "{} imports `{}` (layer {to}) from `{}` (layer {from})",
                        at(f, r.line),
                        r.module,
                        f.module
                    ));
                }
            }
        }
    }
    let matrix = a.matrix(false);
    for cycle in a.cycles() {
        let mut edges = Vec::new();
        for from in &cycle {
            for to in &cycle {
                if let Some(files) = matrix.get(from).and_then(|row| row.get(to)) {
                    let files: Vec<String> = files
                        .iter()
                        .map(|p| format!("crates/core/src/{p}"))
                        .collect();
                    edges.push(format!("{from} -> {to} ({})", files.join(", ")));
                }
            }
        }
        found.push(format!(
            "import cycle {}: {}",
            cycle.join(" <-> "),
            edges.join("; ")
        ));
    }
    fail_if_any("the module graph must follow the layers", found);
}

// The analyser itself.

fn refs_of(rel: &str, text: &str) -> Vec<(String, usize, bool)> {
    deps::analyse_source(rel, text)
        .refs
        .into_iter()
        .map(|r| (r.module, r.line, r.test))
        .collect()
}

#[test]
fn use_groups_name_each_module_once_per_entry() {
    let refs = refs_of(
        "engine/mod.rs",
        "use crate::{a, b::c, d::{e, f}};\nuse crate::store::Store;\nfn f() { crate::clock::system(); }\n",
    );
    let names: Vec<&str> = refs.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, ["a", "b", "d", "store", "clock"]);
    assert_eq!(refs[4].1, 3, "line numbers are kept");
}

#[test]
fn comments_and_string_literals_do_not_count() {
    let text = r####"
//! Uses [`crate::api`] only in docs.
/* a block comment: crate::api /* nested: crate::api */ still comment */
/// crate::api in a doc comment
fn f() -> &'static str {
    let _c = '"';
    let _s = "crate::api";
    let _r = r#"crate::api "quoted" "#;
    let _b = b"crate::api";
    crate::model::x() // crate::api
}
"####;
    let refs = refs_of("store/mod.rs", text);
    assert_eq!(refs, [("model".to_string(), 10, false)]);
}

#[test]
fn super_chains_count_once_they_climb_out_of_the_module() {
    // deploy/local/board.rs is deploy::local::board: two supers stay inside
    // `deploy`, three reach the crate root.
    let text = "use super::super::instance::Health;\nuse super::super::super::engine::X;\nuse super::{a, b};\n";
    let refs = refs_of("deploy/local/board.rs", text);
    assert_eq!(refs, [("engine".to_string(), 2, false)]);
    // A top-level file's `super` is the root; a group there names modules.
    let refs = refs_of("repos.rs", "use super::{store, watch::Heads};\n");
    let names: Vec<&str> = refs.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, ["store", "watch"]);
    // Inside an inline module, `super` climbs to the file's module first.
    let refs = refs_of("repos.rs", "mod inner {\n    use super::super::store;\n}\n");
    assert_eq!(refs, [("store".to_string(), 2, false)]);
}

#[test]
fn test_only_code_is_told_apart() {
    let text = "use crate::store::Store;\n\n#[cfg(test)]\nmod tests {\n    use crate::testing::GitRepo;\n}\n\n#[cfg(test)]\nuse crate::engine::X;\nfn after() { crate::spec::y(); }\n";
    let refs = refs_of("watch/mod.rs", text);
    assert_eq!(
        refs,
        [
            ("store".to_string(), 1, false),
            ("testing".to_string(), 5, true),
            ("engine".to_string(), 9, true),
            ("spec".to_string(), 10, false),
        ]
    );
}

#[test]
fn cycles_are_strongly_connected_components() {
    let mut a = Analysis::default();
    for (path, text) in [
        ("a.rs", "use crate::b::X;"),
        ("b/mod.rs", "use crate::c::X;"),
        ("c.rs", "use crate::a::X;"),
        ("d.rs", "use crate::a::X;"),
    ] {
        a.files.push(deps::analyse_source(path, text));
    }
    assert_eq!(a.cycles(), [vec!["a", "b", "c"]]);
}

#[test]
fn platform_conditions_and_clock_reads_are_found_in_code_only() {
    let text = "#[cfg(unix)]\nfn a() {}\n#[cfg_attr(windows, allow(x))]\nfn b() { if cfg!(target_os = \"linux\") {} }\n// #[cfg(unix)]\n#[cfg(test)]\nfn c() { let _ = \"cfg(unix)\"; chrono::Utc::now(); }\n";
    let t = deps::tokenize(text);
    let found: Vec<usize> = platform_cfgs(&t).into_iter().map(|(l, _)| l).collect();
    assert_eq!(found, [1, 3, 4]);
    let reads: Vec<String> = (0..t.len())
        .filter_map(|i| reads_system_time(&t, i))
        .collect();
    assert_eq!(reads, ["Utc::now"]);
    let t = deps::tokenize(
        "use std::os::unix::fs::PermissionsExt;\n// libc::kill\nfn f() { unsafe { libc::kill(1, 9) }; }\n",
    );
    let apis: Vec<(usize, String)> = os_apis(&t);
    assert_eq!(
        apis,
        [(1, "std::os::unix".to_string()), (3, "libc::".to_string())]
    );
}
