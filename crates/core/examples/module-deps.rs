//! Prints the module dependency matrix of the core and its import cycles.
//!
//! ```text
//! cargo run -q -p slipway-core --example module-deps            # this tree
//! cargo run -q -p slipway-core --example module-deps -- OLD/crates/core/src
//! ```
//!
//! The analysis is the one the architecture test checks
//! (`tests/architecture/deps.rs`); the layer rules are in that file.

#[path = "../tests/architecture/deps.rs"]
mod deps;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let src = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src"));
    match deps::analyse(&src) {
        Ok(analysis) if !analysis.files.is_empty() => {
            println!("Source: {}\n", src.display());
            print!("{}", analysis.render());
            ExitCode::SUCCESS
        }
        Ok(_) => {
            eprintln!("no .rs files under {}", src.display());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cannot read {}: {e}", src.display());
            ExitCode::FAILURE
        }
    }
}
