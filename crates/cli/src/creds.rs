//! `slipway creds …` (AWS profiles, STS sessions, and the formats other AWS
//! tools read) and `slipway secret …` (local secrets for buildspecs).
//!
//! Secrets enter only through stdin or a hidden prompt, never argv, and
//! leave only where the user asked for them (`exec`'s child environment,
//! `process`, `env` on stdout). Nothing here logs a value.
//!
//! What the Accounts page can do goes through the core's command table, as
//! the window does (`add`, `remove`, `whoami`); what hands out a session's
//! secrets (`exec`, `process`, `env`) and `slipway secret …` have no command
//! there, on purpose: a secret never crosses the table to a UI.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::Command;

use serde_json::json;
use slipway_core::api::{
    cmd, ApiError, Core, ErrorCode, ProfileAddRequest, ProfileNameRequest, ProfileVerifyRequest,
};
use slipway_core::creds::{self, CredsError, Profile, SecretString};

use crate::CliError;

#[derive(clap::Subcommand, Debug)]
pub enum CredsCommand {
    /// Add a profile: your own keys (--access-key-id; the secret access key
    /// is read from stdin, or a hidden prompt on a terminal) or a role
    /// assumed from another profile (--source and --role-arn).
    Add(AddArgs),
    /// List profiles (metadata only).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a profile and its keychain items.
    Remove { name: String },
    /// Ask STS who a profile's session is (GetCallerIdentity).
    Whoami {
        name: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        mfa: MfaArg,
    },
    /// Run a command with the profile's session in its environment; exits
    /// with the command's exit code.
    Exec {
        name: String,
        #[command(flatten)]
        mfa: MfaArg,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Print the session as `credential_process` JSON (for ~/.aws/config).
    Process {
        name: String,
        #[command(flatten)]
        mfa: MfaArg,
    },
    /// Print the session as shell `export` lines (for `eval`).
    Env {
        name: String,
        #[command(flatten)]
        mfa: MfaArg,
    },
    /// Import profiles from ~/.aws/config and ~/.aws/credentials (the files
    /// are only read, never changed).
    Import {
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        #[arg(long, value_name = "PATH")]
        credentials: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    name: String,
    /// Your access key id; the secret access key is read from stdin.
    #[arg(long, conflicts_with_all = ["source", "role_arn"])]
    access_key_id: Option<String>,
    /// The profile whose credentials assume --role-arn.
    #[arg(long, requires = "role_arn")]
    source: Option<String>,
    #[arg(long, requires = "source")]
    role_arn: Option<String>,
    #[arg(long)]
    region: Option<String>,
    /// The MFA device's ARN (or serial number).
    #[arg(long)]
    mfa_serial: Option<String>,
    #[arg(long)]
    external_id: Option<String>,
    /// Session duration in seconds (900..43200).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<i64>,
    /// RoleSessionName (default: slipway-<your login>).
    #[arg(long)]
    session_name: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct MfaArg {
    /// The current 6-digit code of the profile's MFA device (asked for on a
    /// terminal when needed and not given).
    #[arg(long, value_name = "CODE")]
    mfa_code: Option<String>,
}

fn failed(e: CredsError) -> CliError {
    CliError::Failed(e.to_string())
}

pub fn run(data_dir: Option<PathBuf>, command: CredsCommand) -> Result<(), CliError> {
    crate::init_logging("warn");
    let core = crate::open_core(data_dir, slipway_core::api::Host::Cli)?;
    let store = core.store();
    match command {
        CredsCommand::Add(args) => add(&core, args),
        CredsCommand::List { json } => list(&core, json),
        CredsCommand::Remove { name } => {
            crate::runtime()?.block_on(
                core.command::<cmd::ProfileRemove>(ProfileNameRequest { name: name.clone() }),
            )?;
            println!("removed profile {name} and its keychain items");
            Ok(())
        }
        CredsCommand::Whoami { name, json, mfa } => {
            let id = with_mfa(mfa, |code| {
                let request = ProfileVerifyRequest {
                    name: name.clone(),
                    mfa_code: code.map(str::to_string),
                };
                crate::runtime()?
                    .block_on(core.command::<cmd::ProfileVerify>(request))
                    .map_err(CallError::Api)
            })?;
            // The same document as ever: the identity without the name
            // the response repeats.
            let id = creds::Identity {
                account: id.account,
                arn: id.arn,
                user_id: id.user_id,
            };
            if json {
                crate::output::print_json(&json!(id));
            } else {
                println!(
                    "account  {}\narn      {}\nuser_id  {}",
                    id.account, id.arn, id.user_id
                );
            }
            Ok(())
        }
        CredsCommand::Exec { name, mfa, command } => exec(&core, &name, mfa, &command),
        CredsCommand::Process { name, mfa } => {
            let injection = injection(&core, &name, mfa)?;
            println!("{}", creds::process_json(&injection));
            Ok(())
        }
        CredsCommand::Env { name, mfa } => {
            let injection = injection(&core, &name, mfa)?;
            print!("{}", creds::export_lines(&injection));
            Ok(())
        }
        CredsCommand::Import {
            config,
            credentials,
            json,
        } => {
            // Not through the table's `profiles_import`: it reads only the
            // default files (no --config / --credentials) and answers
            // `name (kind)` strings where `--json` prints objects.
            let report = creds::import(
                store,
                config.as_deref(),
                credentials.as_deref(),
                core.clock().now(),
            )
            .map_err(failed)?;
            if json {
                crate::output::print_json(&json!(report));
                return Ok(());
            }
            for i in &report.imported {
                println!("imported {} ({})", i.name, i.kind);
            }
            for s in &report.skipped {
                println!("skipped  {}: {}", s.name, s.reason);
            }
            if report.imported.is_empty() && report.skipped.is_empty() {
                println!("no profiles found");
            }
            Ok(())
        }
    }
}

fn add(core: &Core, a: AddArgs) -> Result<(), CliError> {
    let profile = Profile {
        name: a.name.clone(),
        source_profile: a.source,
        role_arn: a.role_arn,
        region: a.region,
        mfa_serial: a.mfa_serial,
        external_id: a.external_id,
        duration_seconds: a.duration,
        session_name: a.session_name,
        added_at: core.clock().now(),
    };
    if profile.is_role() {
        // What `add_role` checks first, checked here as it was: the table's
        // handler drops empty values before, which would turn an empty
        // --role-arn into a less helpful complaint.
        creds::validate(&profile).map_err(failed)?;
        save(core, profile, None)?;
        println!("added role profile {}", a.name);
        return Ok(());
    }
    let Some(id) = a.access_key_id else {
        return Err(CliError::Usage(
            "give --access-key-id (your own keys) or --source and --role-arn (a role)".into(),
        ));
    };
    // Checked before asking for the secret, so a typo costs no typing (the
    // table's handler checks only once it has the secret).
    creds::validate(&profile).map_err(failed)?;
    let secret = read_secret("Secret access key: ")?;
    save(core, profile, Some((id, secret)))?;
    println!("added profile {} (keys in the OS keychain)", a.name);
    Ok(())
}

/// Adds a checked profile through the table's `profile_add`, as the window
/// does; `keys` is the access key id and its secret for a keys profile.
fn save(core: &Core, profile: Profile, keys: Option<(String, String)>) -> Result<(), CliError> {
    let (access_key_id, secret_access_key) = keys.unzip();
    let request = ProfileAddRequest {
        name: profile.name,
        access_key_id,
        secret_access_key,
        source_profile: profile.source_profile,
        role_arn: profile.role_arn,
        external_id: profile.external_id,
        mfa_serial: profile.mfa_serial,
        region: profile.region,
        duration_seconds: profile.duration_seconds,
        session_name: profile.session_name,
    };
    crate::runtime()?.block_on(core.command::<cmd::ProfileAdd>(request))?;
    Ok(())
}

/// Read from the store, not through the table's `profiles`: its rows have no
/// `source_profile`, `external_id` or `session_name`, which this listing
/// prints, and it reads every profile's cached session from the keychain
/// where this listing is metadata only.
fn list(core: &Core, json: bool) -> Result<(), CliError> {
    let profiles = core.store().profiles().map_err(|e| failed(e.into()))?;
    if json {
        let rows: Vec<_> = profiles
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "kind": p.kind(),
                    "source_profile": p.source_profile,
                    "role_arn": p.role_arn,
                    "account": p.role_account(),
                    "region": p.region,
                    "mfa_serial": p.mfa_serial,
                    "external_id": p.external_id.is_some(),
                    "duration_seconds": p.duration(),
                    "session_name": p.session_name,
                })
            })
            .collect();
        crate::output::print_json(&json!(rows));
        return Ok(());
    }
    if profiles.is_empty() {
        println!("no profiles: add one with `slipway creds add NAME --access-key-id ID`");
    }
    for p in &profiles {
        let what = match (&p.role_arn, &p.source_profile) {
            (Some(arn), Some(src)) => format!("role {arn} from {src}"),
            _ => "keys".to_string(),
        };
        let region = p.region.as_deref().unwrap_or("-");
        let mfa = if p.mfa_serial.is_some() { "  mfa" } else { "" };
        println!("{:<20} {what}  region {region}{mfa}", p.name);
    }
    Ok(())
}

/// Runs `call`, asking for an MFA code on the terminal when STS needs one
/// and none was given.
fn with_mfa<T>(
    mfa: MfaArg,
    call: impl Fn(Option<&str>) -> Result<T, CallError>,
) -> Result<T, CliError> {
    let first = call(mfa.mfa_code.as_deref());
    let prompt = match &first {
        Err(e) if mfa.mfa_code.is_none() && std::io::stdin().is_terminal() => e.mfa_prompt(),
        _ => None,
    };
    let Some(prompt) = prompt else {
        return first.map_err(CallError::into_cli);
    };
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CliError::Failed(format!("cannot read the MFA code: {e}")))?;
    call(Some(line.trim())).map_err(CallError::into_cli)
}

/// A credentials failure (maybe MFA), directly or from the command table,
/// or the CLI's own.
enum CallError {
    Creds(CredsError),
    Api(ApiError),
    Cli(CliError),
}

impl From<CredsError> for CallError {
    fn from(e: CredsError) -> Self {
        CallError::Creds(e)
    }
}

impl From<CliError> for CallError {
    fn from(e: CliError) -> Self {
        CallError::Cli(e)
    }
}

impl CallError {
    fn into_cli(self) -> CliError {
        match self {
            CallError::Creds(e) => failed(e),
            CallError::Api(e) => CliError::Api(e),
            CallError::Cli(e) => e,
        }
    }

    /// What to ask when the failure is a missing MFA code.
    fn mfa_prompt(&self) -> Option<String> {
        match self {
            CallError::Creds(CredsError::MfaRequired { serial, .. }) => {
                Some(format!("MFA code for {serial}: "))
            }
            CallError::Api(e) if e.code == ErrorCode::MfaRequired => Some(
                mfa_serial(&e.message)
                    .map_or_else(|| "MFA code: ".into(), |s| format!("MFA code for {s}: ")),
            ),
            _ => None,
        }
    }
}

/// The device an `mfa_required` error names. The table's errors carry a code
/// and a message only, and the message is `CredsError::MfaRequired`'s:
/// "profile `NAME` needs an MFA code for SERIAL: pass --mfa-code or …".
fn mfa_serial(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once(" needs an MFA code for ")?;
    let (serial, _) = rest.rsplit_once(": pass --mfa-code")?;
    Some(serial).filter(|s| !s.is_empty())
}

fn injection(core: &Core, name: &str, mfa: MfaArg) -> Result<creds::Injection, CliError> {
    with_mfa(mfa, |code| {
        crate::runtime()?
            .block_on(creds::session_env(
                core.store(),
                name,
                core.clock().as_ref(),
                code,
            ))
            .map_err(Into::into)
    })
}

/// Variables that would let the child act as another profile than the one
/// asked for.
const CLEARED: [&str; 6] = [
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
];

fn exec(core: &Core, name: &str, mfa: MfaArg, command: &[String]) -> Result<(), CliError> {
    let injection = injection(core, name, mfa)?;
    let mut child = Command::new(&command[0]);
    child.args(&command[1..]);
    for var in CLEARED {
        child.env_remove(var);
    }
    child.envs(injection.env.iter().map(|(k, v)| (k, v)));
    child.env("SLIPWAY_PROFILE", name);
    let status = child
        .status()
        .map_err(|e| CliError::Failed(format!("cannot run {}: {e}", command[0])))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(CliError::Quiet(code.clamp(1, 255) as u8)),
        None => Err(CliError::Quiet(signal_exit(&status))),
    }
}

#[cfg(unix)]
fn signal_exit(status: &std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    128u8.saturating_add(status.signal().unwrap_or(0) as u8)
}

#[cfg(not(unix))]
fn signal_exit(_: &std::process::ExitStatus) -> u8 {
    1
}

/// A secret from stdin (piped) or a hidden prompt (terminal); never argv.
fn read_secret(prompt: &str) -> Result<String, CliError> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt)
            .map_err(|e| CliError::Failed(format!("cannot read the secret: {e}")))?
    } else {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| CliError::Failed(format!("cannot read the secret from stdin: {e}")))?;
        s
    };
    let value = value.trim_end_matches(['\r', '\n']).to_string();
    if value.is_empty() {
        return Err(CliError::Usage(
            "the secret is empty: pipe it on stdin or type it at the prompt".into(),
        ));
    }
    Ok(value)
}

#[derive(clap::Subcommand, Debug)]
pub enum SecretCommand {
    /// Set a local secret; its value is read from stdin (or a hidden prompt).
    Set { name: String },
    /// List local secrets (names only).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a local secret.
    Remove { name: String },
}

pub fn run_secret(data_dir: Option<PathBuf>, command: SecretCommand) -> Result<(), CliError> {
    crate::init_logging("warn");
    let core = crate::open_core(data_dir, slipway_core::api::Host::Cli)?;
    let store = core.store();
    match command {
        SecretCommand::Set { name } => {
            let value = SecretString::new(read_secret("Value: ")?);
            creds::set_secret(store, &name, &value, core.clock().now()).map_err(failed)?;
            println!("set secret {name} (in the OS keychain)");
        }
        SecretCommand::List { json } => {
            let names = creds::secret_names(store).map_err(failed)?;
            if json {
                let rows: Vec<_> = names
                    .iter()
                    .map(|(n, at)| json!({"name": n, "updated_at": at}))
                    .collect();
                crate::output::print_json(&json!(rows));
            } else {
                for (n, _) in &names {
                    println!("{n}");
                }
            }
        }
        SecretCommand::Remove { name } => {
            creds::remove_secret(store, &name).map_err(failed)?;
            println!("removed secret {name}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mfa_prompt_names_the_device_the_tables_error_names() {
        let serial = "arn:aws:iam::111111111111:mfa/me";
        let err = ApiError::from(CredsError::MfaRequired {
            profile: "prod".into(),
            serial: serial.into(),
        });
        assert_eq!(err.code, ErrorCode::MfaRequired);
        assert_eq!(
            CallError::Api(err).mfa_prompt().as_deref(),
            Some("MFA code for arn:aws:iam::111111111111:mfa/me: ")
        );
        let other = ApiError::new(ErrorCode::MfaRequired, "something else");
        assert_eq!(
            CallError::Api(other).mfa_prompt().as_deref(),
            Some("MFA code: ")
        );
        let not_mfa = ApiError::new(ErrorCode::NotFound, "no profile named `x`");
        assert_eq!(CallError::Api(not_mfa).mfa_prompt(), None);
    }
}
