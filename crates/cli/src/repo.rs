//! `slipway repo add|list|remove|trust`: the repositories Slipway watches.

use std::path::PathBuf;

use slipway_core::api::{RepoListResponse, RepositoryInfo};

use crate::{output, CliError};

#[derive(clap::Subcommand, Debug)]
pub enum RepoCommand {
    /// Add a local git repository. Its pipelines never run until it is trusted.
    Add {
        /// The work tree, or any folder inside it.
        path: PathBuf,
        /// Name used in `REPO/PIPELINE` addresses (default: the folder name).
        #[arg(long)]
        name: Option<String>,
        /// Trust it now: its pipelines run the repository's own commands.
        #[arg(long)]
        trust: bool,
        #[arg(long)]
        json: bool,
    },
    /// List the repositories, with whether each is trusted or missing.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Forget a repository (its files are not touched).
    Remove {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Trust a repository, so its pipelines may run.
    Trust {
        name: String,
        /// Withdraw trust instead.
        #[arg(long)]
        revoke: bool,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(data_dir: Option<PathBuf>, command: RepoCommand) -> Result<(), CliError> {
    let (name, request, json) = match command {
        RepoCommand::Add {
            path,
            name,
            trust,
            json,
        } => {
            // Relative paths are the user's, from where they typed them.
            let path = std::path::absolute(&path).unwrap_or(path);
            (
                "repo_add",
                serde_json::json!({"path": path, "name": name, "trust": trust}),
                json,
            )
        }
        RepoCommand::List { json } => ("repo_list", serde_json::json!({}), json),
        RepoCommand::Remove { name, json } => {
            ("repo_remove", serde_json::json!({"name": name}), json)
        }
        RepoCommand::Trust { name, revoke, json } => (
            "repo_trust",
            serde_json::json!({"name": name, "trusted": !revoke}),
            json,
        ),
    };
    let value = crate::call(data_dir, name, request)?;
    if json {
        output::print_json(&value);
        return Ok(());
    }
    match name {
        "repo_list" => {
            let list: RepoListResponse = output::parse(value)?;
            if list.repositories.is_empty() {
                println!("No repositories yet: add one with `slipway repo add PATH --trust`.");
            }
            for repo in list.repositories {
                println!("{}", describe(&repo));
            }
        }
        "repo_add" => {
            let repo: RepositoryInfo = output::parse(value)?;
            println!("added {}", describe(&repo));
            if !repo.trusted {
                println!(
                    "Its pipelines will not run until you trust it: slipway repo trust {}",
                    repo.name
                );
            }
        }
        "repo_remove" => {
            let repo: RepositoryInfo = output::parse(value)?;
            println!("removed {} ({})", repo.name, repo.path);
        }
        _ => {
            let repo: RepositoryInfo = output::parse(value)?;
            println!("{}", describe(&repo));
        }
    }
    Ok(())
}

fn describe(repo: &RepositoryInfo) -> String {
    let mut flags = vec![if repo.trusted { "trusted" } else { "untrusted" }];
    if repo.missing {
        flags.push("MISSING");
    }
    format!("{}  {}  [{}]", repo.name, repo.path, flags.join(", "))
}
