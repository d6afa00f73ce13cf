//! `slipway creds …` (filled in by the credentials work).

use std::path::PathBuf;

use crate::CliError;

#[derive(clap::Subcommand, Debug)]
pub enum CredsCommand {
    /// List profiles (metadata only).
    List,
}

pub fn run(_data_dir: Option<PathBuf>, _command: CredsCommand) -> Result<(), CliError> {
    Err(CliError::Failed("credentials are not built yet".into()))
}

#[derive(clap::Subcommand, Debug)]
pub enum SecretCommand {
    /// List local secrets (names only).
    List,
}

pub fn run_secret(_data_dir: Option<PathBuf>, _command: SecretCommand) -> Result<(), CliError> {
    Err(CliError::Failed("local secrets are not built yet".into()))
}
