//! The environment a build's commands see: the user's own environment (so
//! their tools are on PATH) minus anything that would leak credentials or
//! impersonate CodeBuild, then the buildspec's `env.variables`, then the
//! pipeline's variables, then the `CODEBUILD_*` variables the runner owns.
//!
//! `parameter-store` and `secrets-manager` references resolve by name to
//! Slipway's local secrets (`slipway secret set`, kept in the keychain by
//! `crate::creds`), which the engine hands in as `BuildJob::local_secrets`
//! and masks. This module owns that precedence, the references' meaning and
//! the reserved names. It must never read the keychain itself, and a
//! reference with no local secret is an error before any command runs,
//! never an empty value.

use std::collections::BTreeMap;

/// Local secrets by name.
type LocalSecrets = BTreeMap<String, String>;

use crate::spec::buildspec::Env;

use super::BuildContext;

/// Names CodeBuild reserves for itself.
pub const RESERVED_PREFIX: &str = "CODEBUILD_";

/// Variables from the user's environment that are never passed to a build:
/// credentials reach a build only through the profile its environment
/// names (its `account`), and a startup file named by
/// `BASH_ENV`/`ENV` would run before every command.
const NOT_INHERITED: [&str; 8] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "BASH_ENV",
    "ENV",
];

/// The assembled environment, and notes for the log about what was refused.
#[derive(Debug, Default)]
pub(crate) struct BuildEnv {
    pub vars: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

/// Fails (before any command runs) when a buildspec secret reference names
/// no local secret.
pub(crate) fn check_secret_references(env: &Env, local: &LocalSecrets) -> Result<(), String> {
    resolve_secret_references(env, local).map(drop)
}

/// The variables a buildspec's `parameter-store` and `secrets-manager`
/// references stand for. A parameter resolves to the local secret of the
/// same name; a secret (`secret-id:json-key:…`) to the local secret named by
/// its id, or by the name inside its ARN, and to one key of its JSON value
/// when `json-key` is given. Version stages and ids are not kept locally:
/// there is one value per name.
pub(crate) fn resolve_secret_references(
    env: &Env,
    local: &LocalSecrets,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (name, parameter) in &env.parameter_store {
        let value = local.get(parameter).ok_or_else(|| {
            format!(
                "env.parameter-store: variable {name} refers to parameter {parameter}, which is \
                 not a Slipway local secret: add it with `slipway secret set {parameter}`"
            )
        })?;
        out.push((name.clone(), value.clone()));
    }
    for (name, secret) in &env.secrets_manager {
        let id = &secret.secret_id;
        let arn_name = id
            .strip_prefix("arn:")
            .and_then(|_| id.split(':').nth(6))
            .unwrap_or(id);
        let value = local
            .get(id)
            .or_else(|| local.get(arn_name))
            .ok_or_else(|| {
                format!(
                    "env.secrets-manager: variable {name} refers to secret {id}, which is not a \
                     Slipway local secret: add it with `slipway secret set {arn_name}`"
                )
            })?;
        let value = match &secret.json_key {
            None => value.clone(),
            Some(key) => json_key(value, key).ok_or_else(|| {
                format!(
                    "env.secrets-manager: variable {name} wants key {key} of secret {id}, but \
                     that secret's value is not a JSON object with that key"
                )
            })?,
        };
        out.push((name.clone(), value));
    }
    Ok(out)
}

/// One key of a JSON object, as CodeBuild gives it: strings unquoted, other
/// values as JSON text.
fn json_key(value: &str, key: &str) -> Option<String> {
    let parsed: serde_json::Value = serde_json::from_str(value).ok()?;
    match parsed.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

impl super::BuildJob {
    /// Hands the build Slipway's local secrets for its references, and masks
    /// in its log every one of their values and every value a reference
    /// takes from them (a `json-key` picks a part of a value).
    pub fn with_local_secrets(mut self, secrets: LocalSecrets) -> Self {
        self.secrets.extend(secrets.values().cloned());
        if let Ok(resolved) = resolve_secret_references(&self.buildspec.env, &secrets) {
            self.secrets.extend(resolved.into_iter().map(|(_, v)| v));
        }
        self.local_secrets = secrets;
        self
    }
}

pub(crate) fn assemble(
    inherited: impl IntoIterator<Item = (String, String)>,
    spec: &Env,
    local: &LocalSecrets,
    pipeline: &[(String, String)],
    context: &BuildContext,
    src_dir: &str,
) -> BuildEnv {
    let mut out = BuildEnv::default();
    for (name, value) in inherited {
        if !name.starts_with(RESERVED_PREFIX) && !NOT_INHERITED.contains(&name.as_str()) {
            out.vars.insert(name, value);
        }
    }
    // Checked before any command ran (`check_secret_references`).
    let secrets = resolve_secret_references(spec, local).unwrap_or_default();
    let sources = [
        ("env.variables", spec.variables.as_slice()),
        (
            "env.parameter-store / env.secrets-manager",
            secrets.as_slice(),
        ),
        ("the pipeline", pipeline),
    ];
    for (source, vars) in sources {
        for (name, value) in vars {
            if name.starts_with(RESERVED_PREFIX) {
                out.warnings.push(format!(
                    "Ignoring {name} from {source}: names starting with {RESERVED_PREFIX} are \
                     reserved for CodeBuild, so the build keeps its own value"
                ));
                continue;
            }
            out.vars.insert(name.clone(), value.clone());
        }
    }
    for (name, value) in codebuild_vars(context, src_dir) {
        out.vars.insert(name.to_string(), value);
    }
    if let Some(region) = &context.region {
        out.vars.insert("AWS_REGION".into(), region.clone());
        out.vars.insert("AWS_DEFAULT_REGION".into(), region.clone());
    }
    out
}

/// The variables CodeBuild sets that buildspecs read.
fn codebuild_vars(c: &BuildContext, src_dir: &str) -> Vec<(&'static str, String)> {
    // There is no AWS account behind a local build; the ARN keeps AWS's
    // shape so scripts that split it still work.
    let arn = format!(
        "arn:aws:codebuild:{}:000000000000:build/{}",
        c.region.as_deref().unwrap_or("local"),
        c.build_id
    );
    let mut vars = vec![
        ("CODEBUILD_CI", "true".to_string()),
        ("CODEBUILD_SRC_DIR", src_dir.to_string()),
        ("CODEBUILD_BUILD_ID", c.build_id.clone()),
        ("CODEBUILD_BUILD_NUMBER", c.build_number.to_string()),
        ("CODEBUILD_BUILD_ARN", arn),
        ("CODEBUILD_BUILD_SUCCEEDING", "1".to_string()),
        ("CODEBUILD_INITIATOR", c.initiator.clone()),
        ("CODEBUILD_START_TIME", c.start_time_ms.to_string()),
        (
            "CODEBUILD_RESOLVED_SOURCE_VERSION",
            c.resolved_source_version.clone(),
        ),
        (
            "CODEBUILD_SOURCE_VERSION",
            c.source_version
                .clone()
                .unwrap_or_else(|| c.resolved_source_version.clone()),
        ),
    ];
    let optional = [
        ("CODEBUILD_SOURCE_REPO_URL", &c.source_repo_url),
        ("CODEBUILD_WEBHOOK_TRIGGER", &c.webhook_trigger),
        ("CODEBUILD_WEBHOOK_HEAD_REF", &c.webhook_head_ref),
        ("CODEBUILD_WEBHOOK_PREV_COMMIT", &c.webhook_prev_commit),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            vars.push((name, v.clone()));
        }
    }
    vars
}

/// Whether `name` may be read back from the shell: a plain identifier, so it
/// can be written into a shell script without quoting.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b == b'_' || b.is_ascii_alphabetic())
        && bytes.all(|b| b == b'_' || b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_values_win_and_credentials_are_not_inherited() {
        let spec = Env {
            variables: vec![
                ("CODEBUILD_BUILD_ID".into(), "mine".into()),
                ("GREETING".into(), "$HOME".into()),
            ],
            ..Env::default()
        };
        let ctx = BuildContext {
            build_id: "p:1".into(),
            ..BuildContext::default()
        };
        let inherited = vec![
            ("AWS_SECRET_ACCESS_KEY".to_string(), "x".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let env = assemble(inherited, &spec, &LocalSecrets::new(), &[], &ctx, "/src");
        assert_eq!(env.vars["CODEBUILD_BUILD_ID"], "p:1");
        assert_eq!(env.vars["GREETING"], "$HOME");
        assert_eq!(env.vars["PATH"], "/bin");
        assert!(!env.vars.contains_key("AWS_SECRET_ACCESS_KEY"));
        assert_eq!(env.warnings.len(), 1);
    }

    #[test]
    fn secret_references_resolve_by_name_arn_and_json_key() {
        let spec = Env {
            parameter_store: vec![("DB".into(), "/prod/db".into())],
            secrets_manager: vec![(
                "TOKEN".into(),
                crate::spec::buildspec::SecretRef::parse(
                    "arn:aws:secretsmanager:eu-west-1:111111111111:secret:prod/api:token",
                ),
            )],
            ..Env::default()
        };
        let local: LocalSecrets = [
            ("/prod/db".to_string(), "pw".to_string()),
            ("prod/api".to_string(), r#"{"token":"t0k"}"#.to_string()),
        ]
        .into();
        let resolved = resolve_secret_references(&spec, &local).unwrap();
        assert_eq!(
            resolved,
            [("DB".into(), "pw".into()), ("TOKEN".into(), "t0k".into())]
        );
        let err = check_secret_references(&spec, &LocalSecrets::new()).unwrap_err();
        assert!(err.contains("slipway secret set /prod/db"), "{err}");
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("IMAGE_TAG"));
        assert!(!is_identifier("1A"));
        assert!(!is_identifier("A;rm"));
    }
}
