//! CodeBuild buildspecs (versions 0.1 and 0.2), read the way CodeBuild reads
//! them, into the typed [`Buildspec`] the build runner consumes.
//!
//! This module owns the grammar and its checks: which keys exist, which
//! values are allowed, which legacy spellings AWS still accepts. It must
//! never run anything, touch the file system or decide how a build behaves
//! beyond recording what the file says (e.g. [`Version::one_shell`]).

mod batch;
mod outputs;

use serde::Serialize;

pub use batch::{Batch, BatchBuild, BatchEnv, BatchKind, BuildMatrix};
pub use outputs::{Artifacts, Cache, CacheAction, ReportGroup};

use super::error::SpecError;
use super::read::{suggest, Fields, KeyPath, Reader};
use super::yaml::{self, Node, Value};

/// The buildspec grammar version. It changes how commands run, so the
/// runner must honour it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Version {
    /// `0.1`: every command runs in its own shell instance.
    #[serde(rename = "0.1")]
    V0_1,
    /// `0.2`: all commands of the build share one shell instance, so `cd`
    /// and `export` carry over from one command (and phase) to the next.
    #[serde(rename = "0.2")]
    V0_2,
}

impl Version {
    pub fn one_shell(self) -> bool {
        self == Version::V0_2
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Buildspec {
    pub version: Version,
    pub run_as: Option<String>,
    pub env: Env,
    pub proxy: Proxy,
    pub batch: Option<Batch>,
    /// Phases present in the file, in CodeBuild's order (not file order).
    pub phases: Vec<Phase>,
    pub reports: Vec<ReportGroup>,
    pub artifacts: Option<Artifacts>,
    pub cache: Option<Cache>,
}

impl Buildspec {
    pub fn phase(&self, name: PhaseName) -> Option<&Phase> {
        self.phases.iter().find(|p| p.name == name)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Env {
    /// `bash` or `/bin/sh` on Linux; `powershell.exe` or `cmd.exe` on Windows.
    pub shell: Option<String>,
    /// Literal values: CodeBuild does not expand `$VAR` at definition time.
    pub variables: Vec<(String, String)>,
    /// Name -> Systems Manager parameter name.
    pub parameter_store: Vec<(String, String)>,
    pub secrets_manager: Vec<(String, SecretRef)>,
    pub exported_variables: Vec<String>,
    pub git_credential_helper: bool,
}

/// `secret-id:json-key:version-stage:version-id`, trailing parts optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretRef {
    pub secret_id: String,
    pub json_key: Option<String>,
    pub version_stage: Option<String>,
    pub version_id: Option<String>,
}

impl SecretRef {
    pub fn parse(text: &str) -> SecretRef {
        // A secret id may itself be an ARN, which holds seven `:`-separated
        // parts (arn:aws:secretsmanager:region:account:secret:name).
        let parts: Vec<&str> = text.split(':').collect();
        let id_parts = if text.starts_with("arn:") {
            7.min(parts.len())
        } else {
            1
        };
        let part = |i: usize| {
            parts
                .get(id_parts + i)
                .filter(|p| !p.is_empty())
                .map(|p| p.to_string())
        };
        SecretRef {
            secret_id: parts[..id_parts].join(":"),
            json_key: part(0),
            version_stage: part(1),
            version_id: part(2),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Proxy {
    pub upload_artifacts: Option<bool>,
    pub logs: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseName {
    Install,
    PreBuild,
    Build,
    PostBuild,
}

impl PhaseName {
    pub const ALL: [PhaseName; 4] = [
        PhaseName::Install,
        PhaseName::PreBuild,
        PhaseName::Build,
        PhaseName::PostBuild,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PhaseName::Install => "install",
            PhaseName::PreBuild => "pre_build",
            PhaseName::Build => "build",
            PhaseName::PostBuild => "post_build",
        }
    }
}

const PHASE_NAMES: [&str; 4] = ["install", "pre_build", "build", "post_build"];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub name: PhaseName,
    pub run_as: Option<String>,
    pub on_failure: OnFailure,
    /// `install` only: runtime name -> version as written (`18`, `corretto17`).
    pub runtime_versions: Vec<(String, String)>,
    pub commands: Vec<Command>,
    pub finally: Vec<Command>,
}

/// One shell command, with its text exactly as YAML read it (a command
/// YAML reads as a number or boolean keeps its source spelling) and where
/// it is, so a failing command's log can point at the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    pub text: String,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum OnFailure {
    /// End the build (the default).
    Abort,
    /// Go on to the next phase.
    Continue,
    /// Retry the phase `count` times (3 when unspecified) when the error
    /// output matches `pattern` (any error when unspecified).
    Retry {
        count: Option<u32>,
        pattern: Option<String>,
    },
}

impl OnFailure {
    /// Plain `RETRY` retries up to three times.
    pub const DEFAULT_RETRIES: u32 = 3;

    pub fn parse(text: &str) -> Result<OnFailure, String> {
        match text {
            "ABORT" => return Ok(OnFailure::Abort),
            "CONTINUE" => return Ok(OnFailure::Continue),
            "RETRY" => {
                return Ok(OnFailure::Retry {
                    count: None,
                    pattern: None,
                })
            }
            _ => {}
        }
        let Some(rest) = text.strip_prefix("RETRY-") else {
            return Err(format!(
                "`{text}` is not a valid on-failure; expected ABORT, CONTINUE, RETRY, \
                 RETRY-<count>, RETRY-<regex> or RETRY-<count>-<regex>"
            ));
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let after = &rest[digits.len()..];
        if digits.is_empty() || !(after.is_empty() || after.starts_with('-')) {
            return Ok(OnFailure::Retry {
                count: None,
                pattern: Some(rest.to_string()).filter(|p| !p.is_empty()),
            });
        }
        let count: u32 = digits.parse().ok().filter(|n| *n <= 100).ok_or_else(|| {
            format!("retry count {digits} is out of range; CodeBuild allows 0 to 100")
        })?;
        let pattern = after.strip_prefix('-').map(str::to_string);
        if pattern.as_deref() == Some("") {
            return Err(format!(
                "`{text}` ends with `-` but gives no pattern after it"
            ));
        }
        Ok(OnFailure::Retry {
            count: Some(count),
            pattern,
        })
    }
}

/// A list of commands as a buildspec of one `build` phase: how a `command`
/// action and the `command` deploy provider run their commands. (JSON is
/// YAML: the commands go in quoted, whatever they hold.)
pub fn of_commands(commands: &[String]) -> String {
    serde_json::json!({
        "version": 0.2,
        "phases": {"build": {"commands": commands}}
    })
    .to_string()
}

/// Parses and validates a buildspec, returning every error found.
pub fn parse(text: &str, file_name: &str) -> Result<Buildspec, Vec<SpecError>> {
    let doc = yaml::load(text, file_name).map_err(|e| vec![e])?;
    let mut r = Reader::new(file_name);
    r.findings.extend(doc.warnings);
    let spec = read(&mut r, &doc.root, &KeyPath::root());
    match spec {
        Some(spec) => r.findings.finish(spec),
        None => Err(r.findings.into_errors()),
    }
}

const TOP_KEYS: [&str; 10] = [
    "version",
    "run-as",
    "env",
    "proxy",
    "batch",
    "phases",
    "reports",
    "artifacts",
    "cache",
    "environment_variables",
];

/// Reads a buildspec from a node: a whole file, or (with `path` set) a
/// buildspec written inline in a pipeline file.
pub(crate) fn read(r: &mut Reader, root: &Node, path: &KeyPath) -> Option<Buildspec> {
    let path = path.clone();
    let mut top = r.mapping(root, &path, "a buildspec")?;
    let version = match top.get("version") {
        Some(v) => match v.text() {
            Some("0.1") => Some(Version::V0_1),
            Some("0.2") => Some(Version::V0_2),
            _ => {
                r.error(
                    v,
                    &path.key("version"),
                    format!(
                        "unsupported buildspec version {}; expected 0.2 (or the legacy 0.1)",
                        super::read::describe(v)
                    ),
                );
                None
            }
        },
        None => {
            r.error(
                root,
                &path,
                "missing `version`; CodeBuild requires it: add `version: 0.2` at the top",
            );
            None
        }
    };
    let run_as = top
        .get("run-as")
        .and_then(|n| r.string(n, &path.key("run-as"), "a Linux user name"));
    let mut env = match top.get("env") {
        Some(n) => read_env(r, n, &path.key("env")),
        None => Env::default(),
    };
    // Version 0.1's spelling, which CodeBuild still accepts (deprecated in
    // 0.2): `environment_variables: { plaintext: {…} }`.
    if let Some(n) = top.get("environment_variables") {
        let p = path.key("environment_variables");
        if let Some(mut f) = r.mapping(n, &p, "environment_variables") {
            if let Some(v) = f.get("plaintext") {
                env.variables
                    .extend(r.string_map(v, &p.key("plaintext"), "plaintext variables"));
            }
            if let Some(v) = f.get("parameter-store") {
                env.parameter_store.extend(r.string_map(
                    v,
                    &p.key("parameter-store"),
                    "parameter-store",
                ));
            }
            r.unknown_keys(
                &mut f,
                &["plaintext", "parameter-store"],
                "environment_variables",
            );
        }
    }
    let proxy = top
        .get("proxy")
        .map(|n| read_proxy(r, n, &path.key("proxy")))
        .unwrap_or_default();
    let batch = top
        .get("batch")
        .and_then(|n| batch::read(r, n, &path.key("batch")));
    let phases = top
        .get("phases")
        .map(|n| read_phases(r, n, &path.key("phases")))
        .unwrap_or_default();
    let reports = top
        .get("reports")
        .map(|n| outputs::read_reports(r, n, &path.key("reports")))
        .unwrap_or_default();
    let artifacts = top
        .get("artifacts")
        .and_then(|n| outputs::read_artifacts(r, n, &path.key("artifacts"), true));
    let cache = top
        .get("cache")
        .and_then(|n| outputs::read_cache(r, n, &path.key("cache")));
    unknown_top_keys(r, &mut top, &path);
    Some(Buildspec {
        version: version?,
        run_as,
        env,
        proxy,
        batch,
        phases,
        reports,
        artifacts,
        cache,
    })
}

fn unknown_top_keys(r: &mut Reader, top: &mut Fields<'_>, path: &KeyPath) {
    for e in top.rest() {
        let Some(key) = e.key.text() else { continue };
        let p = path.key(key);
        let message = if [
            "build-list",
            "build-matrix",
            "build-graph",
            "build-fanout",
            "fast-fail",
        ]
        .contains(&key)
        {
            format!("unknown top-level key `{key}`; it belongs under `batch:` (did you mean `batch.{key}`?)")
        } else if PHASE_NAMES.contains(&key) {
            format!("unknown top-level key `{key}`; phases belong under `phases:` (did you mean `phases.{key}`?)")
        } else if let Some(s) = suggest(key, &TOP_KEYS) {
            format!("unknown top-level key `{key}`; did you mean `{s}`?")
        } else {
            format!(
                "unknown top-level key `{key}`; a buildspec has version, run-as, env, proxy, \
                 batch, phases, reports, artifacts and cache"
            )
        };
        r.error(&e.key, &p, message);
    }
}

const ENV_KEYS: [&str; 6] = [
    "shell",
    "variables",
    "parameter-store",
    "exported-variables",
    "secrets-manager",
    "git-credential-helper",
];

fn read_env(r: &mut Reader, node: &Node, path: &KeyPath) -> Env {
    let mut env = Env::default();
    let Some(mut f) = r.mapping(node, path, "env") else {
        return env;
    };
    if let Some(n) = f.get("shell") {
        env.shell = r.choice(
            n,
            &path.key("shell"),
            &[
                "bash",
                "/bin/sh",
                "sh",
                "powershell.exe",
                "cmd.exe",
                "pwsh.exe",
            ],
            "shell",
        );
    }
    if let Some(n) = f.get("variables") {
        env.variables = r.string_map(n, &path.key("variables"), "variables");
    }
    if let Some(n) = f.get("parameter-store") {
        env.parameter_store = r.string_map(n, &path.key("parameter-store"), "parameter-store");
    }
    if let Some(n) = f.get("secrets-manager") {
        env.secrets_manager = r
            .string_map(n, &path.key("secrets-manager"), "secrets-manager")
            .into_iter()
            .map(|(k, v)| (k, SecretRef::parse(&v)))
            .collect();
    }
    if let Some(n) = f.get("exported-variables") {
        env.exported_variables =
            r.strings(n, &path.key("exported-variables"), "variable names", false);
    }
    if let Some(n) = f.get("git-credential-helper") {
        env.git_credential_helper = r
            .bool(
                n,
                &path.key("git-credential-helper"),
                "git-credential-helper",
            )
            .unwrap_or(false);
    }
    r.unknown_keys(&mut f, &ENV_KEYS, "env");
    env
}

fn read_proxy(r: &mut Reader, node: &Node, path: &KeyPath) -> Proxy {
    let mut proxy = Proxy::default();
    if let Some(mut f) = r.mapping(node, path, "proxy") {
        if let Some(n) = f.get("upload-artifacts") {
            proxy.upload_artifacts = r.bool(n, &path.key("upload-artifacts"), "upload-artifacts");
        }
        if let Some(n) = f.get("logs") {
            proxy.logs = r.bool(n, &path.key("logs"), "logs");
        }
        r.unknown_keys(&mut f, &["upload-artifacts", "logs"], "proxy");
    }
    proxy
}

fn read_phases(r: &mut Reader, node: &Node, path: &KeyPath) -> Vec<Phase> {
    let Some(mut f) = r.mapping(node, path, "phases") else {
        return Vec::new();
    };
    let mut phases = Vec::new();
    for name in PhaseName::ALL {
        if let Some(n) = f.get(name.as_str()) {
            if let Some(p) = read_phase(r, n, &path.key(name.as_str()), name) {
                phases.push(p);
            }
        }
    }
    // CodeBuild refuses a build whose buildspec names a phase it does not know.
    for e in f.rest() {
        let Some(key) = e.key.text() else { continue };
        let mut message = format!("unknown phase `{key}`");
        match suggest(key, &PHASE_NAMES) {
            Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
            None => message.push_str("; phases are install, pre_build, build and post_build"),
        }
        r.error(&e.key, &path.key(key), message);
    }
    phases
}

fn read_phase(r: &mut Reader, node: &Node, path: &KeyPath, name: PhaseName) -> Option<Phase> {
    let mut f = r.mapping(node, path, "a phase")?;
    let mut phase = Phase {
        name,
        run_as: None,
        on_failure: OnFailure::Abort,
        runtime_versions: Vec::new(),
        commands: Vec::new(),
        finally: Vec::new(),
    };
    if let Some(n) = f.get("run-as") {
        phase.run_as = r.string(n, &path.key("run-as"), "a Linux user name");
    }
    if let Some(n) = f.get("on-failure") {
        let p = path.key("on-failure");
        if let Some(text) = r.string(n, &p, "ABORT, CONTINUE or RETRY") {
            match OnFailure::parse(&text) {
                Ok(v) => phase.on_failure = v,
                Err(m) => r.error(n, &p, m),
            }
        }
    }
    if let Some(n) = f.get("runtime-versions") {
        let p = path.key("runtime-versions");
        if name == PhaseName::Install {
            phase.runtime_versions = r.string_map(n, &p, "runtime-versions");
        } else {
            r.error(
                n,
                &p,
                "runtime-versions is only allowed in the install phase",
            );
        }
    }
    if let Some(n) = f.get("commands") {
        phase.commands = commands(r, n, &path.key("commands"));
    }
    if let Some(n) = f.get("finally") {
        phase.finally = commands(r, n, &path.key("finally"));
    }
    let known: &[&str] = if name == PhaseName::Install {
        &[
            "run-as",
            "on-failure",
            "runtime-versions",
            "commands",
            "finally",
        ]
    } else {
        &["run-as", "on-failure", "commands", "finally"]
    };
    for e in f.rest() {
        let Some(key) = e.key.text() else { continue };
        let p = path.key(key);
        let message = if PHASE_NAMES.contains(&key) {
            format!(
                "`{key}` is indented inside the `{}` phase; move it left so it sits beside the other phases",
                name.as_str()
            )
        } else {
            match suggest(key, known) {
                Some(s) => format!("unknown key `{key}` in phase `{}`; did you mean `{s}`?", name.as_str()),
                None => format!(
                    "unknown key `{key}` in phase `{}`; a phase has run-as, on-failure, {}commands and finally",
                    name.as_str(),
                    if name == PhaseName::Install { "runtime-versions, " } else { "" }
                ),
            }
        };
        r.error(&e.key, &p, message);
    }
    Some(phase)
}

/// Commands: a list of scalars (plain, quoted, block; numbers and booleans
/// keep their text), or a single scalar, which CodeBuild runs as one command.
/// Empty items (`- ` with nothing after it) are skipped, as CodeBuild does.
pub(crate) fn commands(r: &mut Reader, node: &Node, path: &KeyPath) -> Vec<Command> {
    let one = |n: &Node| Command {
        text: n.scalar().map(|s| s.text.clone()).unwrap_or_default(),
        line: n.line,
        column: n.column,
    };
    match &node.value {
        Value::Sequence(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match &item.value {
                    _ if item.is_null() => {}
                    Value::Scalar(_) => out.push(one(item)),
                    Value::Mapping(_) => r.error(
                        item,
                        &path.index(i),
                        "expected a command, found a mapping: an unquoted `: ` (colon and space) \
                         makes YAML read `key: value`; put the whole command in quotes",
                    ),
                    Value::Sequence(_) => r.error(
                        item,
                        &path.index(i),
                        "expected a command, found a nested list; remove the extra `-`",
                    ),
                }
            }
            out
        }
        _ if node.is_null() => Vec::new(),
        Value::Scalar(_) => vec![one(node)],
        Value::Mapping(_) => {
            r.error(
                node,
                path,
                "expected a list of commands, found a mapping; start each command with `- `",
            );
            Vec::new()
        }
    }
}
