//! The environment a build's commands see: the user's own environment (so
//! their tools are on PATH) minus anything that would leak credentials or
//! impersonate CodeBuild, then the buildspec's `env.variables`, then the
//! pipeline's variables, then the `CODEBUILD_*` variables the runner owns.
//!
//! This module owns that precedence and the reserved names. It must never
//! resolve secrets itself: `parameter-store` and `secrets-manager` go
//! through the credentials module, and until it exists they are refused with
//! an error, never replaced by an empty value.

use std::collections::BTreeMap;

use crate::spec::buildspec::Env;

use super::BuildContext;

/// Names CodeBuild reserves for itself.
pub const RESERVED_PREFIX: &str = "CODEBUILD_";

/// Variables from the user's environment that are never passed to a build:
/// credentials reach a build only through the profile its environment
/// names (ARCHITECTURE.md, Credentials), and a startup file named by
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

/// Refuses the buildspec's secret references until the credentials module
/// exists: a build must fail before any command rather than run with an
/// empty password.
pub(crate) fn check_secret_references(env: &Env) -> Result<(), String> {
    if let Some((name, parameter)) = env.parameter_store.first() {
        return Err(format!(
            "env.parameter-store: variable {name} refers to parameter {parameter}; \
             parameter-store references need an AWS account: not supported yet"
        ));
    }
    if let Some((name, secret)) = env.secrets_manager.first() {
        return Err(format!(
            "env.secrets-manager: variable {name} refers to secret {}; \
             secrets-manager references need an AWS account: not supported yet",
            secret.secret_id
        ));
    }
    Ok(())
}

pub(crate) fn assemble(
    inherited: impl IntoIterator<Item = (String, String)>,
    spec: &Env,
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
    let sources = [
        ("env.variables", spec.variables.as_slice()),
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
        let env = assemble(inherited, &spec, &[], &ctx, "/src");
        assert_eq!(env.vars["CODEBUILD_BUILD_ID"], "p:1");
        assert_eq!(env.vars["GREETING"], "$HOME");
        assert_eq!(env.vars["PATH"], "/bin");
        assert!(!env.vars.contains_key("AWS_SECRET_ACCESS_KEY"));
        assert_eq!(env.warnings.len(), 1);
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("IMAGE_TAG"));
        assert!(!is_identifier("1A"));
        assert!(!is_identifier("A;rm"));
    }
}
