//! Import from the AWS CLI's files: `~/.aws/config` and `~/.aws/credentials`
//! (or `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`, or given paths).
//! Keys move into the keychain, metadata into the database.
//!
//! This module only reads those files: it must never edit or delete them,
//! and never report a key in what it says it imported.
//!
//! The parser is ours (small, tested below) rather than a generic INI crate:
//! the AWS format has its own rules that generic parsers get wrong (the
//! `profile ` prefix in config but not credentials, indented sub-properties,
//! `#`/`;` comments), and the SDK's own parser is not public API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::profile::{self, Profile};
use super::{CredsError, Keys, SecretString};
use crate::clock::Millis;
use crate::model::ProfileKind;
use crate::store::Store;

/// Profile name -> its properties (keys lower-cased).
pub type AwsFile = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Imported {
    pub name: String,
    pub kind: ProfileKind,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ImportReport {
    pub imported: Vec<Imported>,
    pub skipped: Vec<Skipped>,
}

/// Parses one AWS file. In the config file (`config == true`) sections are
/// `[default]` and `[profile NAME]` and other sections (`sso-session`,
/// `services`) are ignored; in the credentials file every `[NAME]` is a
/// profile.
pub fn parse_aws_file(text: &str, config: bool) -> AwsFile {
    let mut out = AwsFile::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(header) = trimmed.strip_prefix('[') {
            let header = strip_comment(header);
            let Some(header) = header.trim_end().strip_suffix(']') else {
                current = None;
                continue;
            };
            let header = header.trim();
            current = if !config || header == "default" {
                Some(header.to_string())
            } else {
                header
                    .strip_prefix("profile")
                    .filter(|rest| rest.starts_with([' ', '\t']))
                    .map(|rest| rest.trim().to_string())
            };
            if let Some(name) = &current {
                out.entry(name.clone()).or_default();
            }
            continue;
        }
        // Indented lines are sub-properties (`s3 =` blocks): none of the
        // settings Slipway imports is nested.
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let (Some(name), Some((key, value))) = (&current, trimmed.split_once('=')) else {
            continue;
        };
        let value = strip_comment(value).trim().to_string();
        out.entry(name.clone())
            .or_default()
            .insert(key.trim().to_ascii_lowercase(), value);
    }
    out
}

/// A `#` or `;` after whitespace starts a comment (as in the AWS SDKs).
fn strip_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for i in 1..bytes.len() {
        if (bytes[i] == b'#' || bytes[i] == b';') && bytes[i - 1].is_ascii_whitespace() {
            return &value[..i];
        }
    }
    value
}

fn default_path(var: &str, file: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"))?;
    Some(PathBuf::from(home).join(".aws").join(file))
}

/// Reads a file the user named (must exist) or a default one (may not).
fn read(path: Option<PathBuf>, explicit: bool) -> Result<String, CredsError> {
    let Some(path) = path else {
        return Ok(String::new());
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text),
        Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(CredsError::ReadFile {
            path: path.display().to_string(),
            message: e.to_string(),
        }),
    }
}

/// Imports every profile Slipway can use from the two files.
pub fn import(
    store: &Store,
    config: Option<&Path>,
    credentials: Option<&Path>,
    now: Millis,
) -> Result<ImportReport, CredsError> {
    let config_text = read(
        config
            .map(Path::to_path_buf)
            .or_else(|| default_path("AWS_CONFIG_FILE", "config")),
        config.is_some(),
    )?;
    let creds_text = read(
        credentials
            .map(Path::to_path_buf)
            .or_else(|| default_path("AWS_SHARED_CREDENTIALS_FILE", "credentials")),
        credentials.is_some(),
    )?;
    let mut merged = parse_aws_file(&config_text, true);
    for (name, props) in parse_aws_file(&creds_text, false) {
        merged.entry(name).or_default().extend(props);
    }

    let mut report = ImportReport::default();
    let mut roles: Vec<Profile> = Vec::new();
    for (name, props) in &merged {
        let skip = |reason: &str| Skipped {
            name: name.clone(),
            reason: reason.to_string(),
        };
        if store.profile(name)?.is_some() {
            report
                .skipped
                .push(skip("a Slipway profile of that name exists"));
            continue;
        }
        let mut p = Profile {
            name: name.clone(),
            region: props.get("region").cloned(),
            mfa_serial: props.get("mfa_serial").cloned(),
            external_id: props.get("external_id").cloned(),
            session_name: props.get("role_session_name").cloned(),
            added_at: now,
            ..Profile::default()
        };
        if let Some(d) = props.get("duration_seconds") {
            match d.parse() {
                Ok(d) => p.duration_seconds = Some(d),
                Err(_) => {
                    report
                        .skipped
                        .push(skip("duration_seconds is not a number"));
                    continue;
                }
            }
        }
        if let Some(role) = props.get("role_arn") {
            match props.get("source_profile") {
                Some(source) if source == name => report.skipped.push(skip(
                    "its source_profile is itself: add its keys as another profile first",
                )),
                Some(source) => {
                    p.role_arn = Some(role.clone());
                    p.source_profile = Some(source.clone());
                    roles.push(p);
                }
                None => report.skipped.push(skip(
                    "a role without source_profile (credential_source, web identity) is not supported",
                )),
            }
            continue;
        }
        if props.contains_key("aws_session_token") {
            report
                .skipped
                .push(skip("it holds temporary credentials (aws_session_token)"));
            continue;
        }
        let (Some(id), Some(secret)) = (
            props.get("aws_access_key_id"),
            props.get("aws_secret_access_key"),
        ) else {
            let reason = if props.keys().any(|k| k.starts_with("sso_")) {
                "SSO profiles are not supported"
            } else {
                "it has neither keys nor a role"
            };
            report.skipped.push(skip(reason));
            continue;
        };
        let keys = Keys {
            access_key_id: id.clone(),
            secret_access_key: SecretString::new(secret.clone()),
        };
        match profile::add_keys(store, &p, &keys) {
            Ok(()) => report.imported.push(Imported {
                name: name.clone(),
                kind: ProfileKind::Keys,
            }),
            Err(e) => skip_or_fail(&mut report, name, e)?,
        }
    }
    // Roles after keys, each once its source exists: chains of any depth.
    loop {
        let before = roles.len();
        let mut waiting = Vec::new();
        for p in roles {
            let source = p.source_profile.clone().unwrap_or_default();
            if store.profile(&source)?.is_none() {
                waiting.push(p);
                continue;
            }
            let name = p.name.clone();
            match profile::add_role(store, &p) {
                Ok(()) => report.imported.push(Imported {
                    name,
                    kind: ProfileKind::Role,
                }),
                Err(e) => skip_or_fail(&mut report, &name, e)?,
            }
        }
        roles = waiting;
        if roles.is_empty() || roles.len() == before {
            break;
        }
    }
    for p in roles {
        report.skipped.push(Skipped {
            reason: format!(
                "its source_profile `{}` was not imported",
                p.source_profile.unwrap_or_default()
            ),
            name: p.name,
        });
    }
    Ok(report)
}

/// A profile Slipway cannot take is reported; a keychain or database
/// failure stops the import.
fn skip_or_fail(report: &mut ImportReport, name: &str, e: CredsError) -> Result<(), CredsError> {
    match e {
        CredsError::InvalidProfile { .. } | CredsError::DuplicateProfile(_) => {
            report.skipped.push(Skipped {
                name: name.to_string(),
                reason: e.to_string(),
            });
            Ok(())
        }
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_sections_need_the_profile_prefix_and_sub_properties_are_skipped() {
        let text = "[default]\nregion = eu-west-1 # mine\n\n[profile prod]\n\
                    role_arn=arn:aws:iam::111111111111:role/deploy\nsource_profile = default\n\
                    s3 =\n  max_concurrent_requests = 10\n; comment\n[sso-session corp]\n\
                    sso_region = us-east-1\n[profilex]\nregion = x\n";
        let parsed = parse_aws_file(text, true);
        assert_eq!(parsed.len(), 2, "{parsed:?}");
        assert_eq!(parsed["default"]["region"], "eu-west-1");
        assert_eq!(parsed["prod"]["source_profile"], "default");
        assert!(!parsed["prod"].contains_key("max_concurrent_requests"));
    }

    #[test]
    fn credentials_sections_are_bare_names() {
        let parsed = parse_aws_file(
            "[dev]\naws_access_key_id = AKID\naws_secret_access_key = abc/def+ghi\n",
            false,
        );
        assert_eq!(parsed["dev"]["aws_secret_access_key"], "abc/def+ghi");
    }
}
