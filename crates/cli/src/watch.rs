//! `slipway watch` (filled in by the watch work).

use std::path::PathBuf;

use crate::CliError;

#[derive(clap::Args, Debug)]
pub struct WatchArgs {}

pub fn run(_data_dir: Option<PathBuf>, _args: WatchArgs) -> Result<(), CliError> {
    Err(CliError::Failed("watch is not built yet".into()))
}
