//! `slipway validate`: checks pipeline, buildspec and appspec files and
//! prints what is wrong the way a compiler does. All checking lives in
//! `slipway_core::spec`; this module only finds files, picks kinds and
//! formats reports. It must never panic on any input.

use std::path::{Path, PathBuf};

use slipway_core::spec::{self, FileReport, Kind};

/// Exit codes, as documented in `--help`.
const VALID: u8 = 0;
const INVALID: u8 = 1;
const USAGE: u8 = 2;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindArg {
    Buildspec,
    Appspec,
    Pipeline,
}

impl From<KindArg> for Kind {
    fn from(k: KindArg) -> Kind {
        match k {
            KindArg::Buildspec => Kind::Buildspec,
            KindArg::Appspec => Kind::Appspec,
            KindArg::Pipeline => Kind::Pipeline,
        }
    }
}

/// Validate pipeline files (.slipway/*.yml), CodeBuild buildspecs and
/// CodeDeploy appspecs.
///
/// With no PATH, validates the current repository's `.slipway/*.yml`,
/// `buildspec*.yml` and `appspec.*` (searching from the git root, or the
/// current directory outside a repository; .git, node_modules and target
/// are skipped). A directory PATH is searched the same way.
///
/// Exit status: 0 when every file is valid; 1 when any file is invalid or
/// unreadable; 2 on bad usage (a file whose kind cannot be told from its
/// name without --kind, or no file found to validate).
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct ValidateArgs {
    /// Files (or directories to search) to validate.
    pub paths: Vec<PathBuf>,
    /// Read every given file as this kind instead of guessing from its name.
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// Print a JSON array of {"file","kind","ok","errors":[{"line","column","path","message"}]}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ValidateArgs) -> u8 {
    let kind = args.kind.map(Kind::from);
    let mut targets: Vec<(PathBuf, Option<Kind>)> = Vec::new();
    let mut usage_errors = Vec::new();
    if args.paths.is_empty() {
        let root = repository_root();
        targets.extend(
            spec::discover(&root)
                .into_iter()
                .map(|(p, k)| (relative(&p), kind.or(Some(k)))),
        );
        if targets.is_empty() {
            usage_errors.push(format!(
                "no pipeline, buildspec or appspec files found under {}; pass the files to validate",
                root.display()
            ));
        }
    }
    for path in &args.paths {
        if path.is_dir() {
            let found = spec::discover(path);
            if found.is_empty() {
                usage_errors.push(format!(
                    "no pipeline, buildspec or appspec files found under {}",
                    path.display()
                ));
            }
            targets.extend(found.into_iter().map(|(p, k)| (p, kind.or(Some(k)))));
        } else {
            match kind.or_else(|| Kind::from_path(path)) {
                Some(k) => targets.push((path.clone(), Some(k))),
                None => usage_errors.push(format!(
                    "{}: cannot tell whether this is a buildspec, an appspec or a pipeline from its name; pass --kind",
                    path.display()
                )),
            }
        }
    }
    let reports: Vec<FileReport> = targets
        .iter()
        .map(|(p, k)| spec::validate_file(p, *k))
        .collect();
    if args.json {
        match serde_json::to_string_pretty(&reports) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("error: cannot print the report: {e}"),
        }
    } else {
        print_human(&reports);
    }
    for e in &usage_errors {
        eprintln!("error: {e}");
    }
    if !usage_errors.is_empty() {
        USAGE
    } else if reports.iter().all(|r| r.ok) {
        VALID
    } else {
        INVALID
    }
}

fn print_human(reports: &[FileReport]) {
    let mut error_count = 0;
    for report in reports {
        for e in &report.errors {
            error_count += 1;
            let at = if e.path.is_empty() {
                String::new()
            } else {
                format!(" (at {})", e.path)
            };
            eprintln!(
                "{}:{}:{}: error: {}{at}",
                report.file, e.line, e.column, e.message
            );
        }
    }
    let invalid = reports.iter().filter(|r| !r.ok).count();
    let files = |n: usize| if n == 1 { "file" } else { "files" };
    if reports.is_empty() {
        return;
    }
    if invalid == 0 {
        eprintln!("{} {} valid", reports.len(), files(reports.len()));
    } else {
        eprintln!(
            "{invalid} of {} {} invalid ({error_count} {})",
            reports.len(),
            files(reports.len()),
            if error_count == 1 { "error" } else { "errors" }
        );
    }
}

/// The enclosing git repository's root, or the current directory.
fn repository_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    cwd.ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
        .unwrap_or(cwd)
}

/// Paths relative to the current directory read better in diagnostics.
fn relative(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}
