//! `slipway validate` (the file-formats work fills this in).
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    paths: Vec<std::path::PathBuf>,
}

pub fn run(args: &ValidateArgs) -> u8 {
    eprintln!("error: cannot validate {} path(s) yet", args.paths.len());
    1
}
