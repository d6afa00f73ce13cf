//! The Pipelines page's one question: every pipeline of every repository,
//! as its file reads at the repository's HEAD, with its latest execution.
//! Files are read from the commit (the same code the engine plans from), so
//! the list shows what a "Release change" would run, not the dirty work tree.

use std::path::Path;

use super::{ApiError, Core, LatestExecution, PipelineOverview, PipelineProblem, StageStatus};
use super::{PipelinesRequest, PipelinesResponse};
use crate::spec::pipeline::{self, Trigger};
use crate::store::{Repository, Store};
use crate::watch::snapshot;

pub async fn pipelines(core: &Core, _: PipelinesRequest) -> Result<PipelinesResponse, ApiError> {
    let store = core.store.clone();
    // git and SQLite are blocking; 200 pipelines take a few milliseconds
    // but must not hold an async worker meanwhile.
    tokio::task::spawn_blocking(move || overview(&store))
        .await
        .map_err(ApiError::internal)?
}

fn overview(store: &Store) -> Result<PipelinesResponse, ApiError> {
    let mut response = PipelinesResponse {
        pipelines: Vec::new(),
        problems: Vec::new(),
    };
    for repo in store.repositories()? {
        if let Err(message) = repository_pipelines(store, &repo, &mut response) {
            response.problems.push(PipelineProblem {
                repository: repo.name.clone(),
                file: None,
                message,
            });
        }
    }
    Ok(response)
}

/// Adds `repo`'s pipelines (and its invalid files) to `out`; `Err` says
/// why none could be read at all.
fn repository_pipelines(
    store: &Store,
    repo: &Repository,
    out: &mut PipelinesResponse,
) -> Result<(), String> {
    let path = Path::new(&repo.path);
    if !path.exists() {
        return Err(format!(
            "the work tree {} is gone: remove the repository or add it again where it is now",
            repo.path
        ));
    }
    let head = snapshot::resolve(path, None).map_err(|e| e.to_string())?;
    let files = snapshot::pipeline_files(path, &head.commit).map_err(|e| e.to_string())?;
    let mut found = Vec::new();
    for file in files {
        match pipeline::parse(&file.text, &file.path) {
            Ok(p) => found.push((p, file.path)),
            Err(errors) => out.problems.push(PipelineProblem {
                repository: repo.name.clone(),
                file: Some(file.path),
                message: errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            }),
        }
    }
    found.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    for (p, file) in found {
        let latest = latest_execution(store, &repo.name, &p.name).map_err(|e| e.message)?;
        out.pipelines.push(PipelineOverview {
            key: format!("{}/{}", repo.name, p.name),
            repository: repo.name.clone(),
            name: p.name.clone(),
            file,
            trusted: repo.trusted,
            stages: p.stages.iter().map(|s| s.name.clone()).collect(),
            triggers: p.triggers.iter().map(describe_trigger).collect(),
            latest,
        });
    }
    Ok(())
}

fn latest_execution(
    store: &Store,
    repository: &str,
    pipeline: &str,
) -> Result<Option<LatestExecution>, ApiError> {
    let Some(summary) = store
        .executions(Some(repository), Some(pipeline), 1)?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let Some(detail) = store.execution(&summary.id)? else {
        return Ok(None);
    };
    let pending_approval = !store.pending_approvals(&summary.id)?.is_empty();
    Ok(Some(LatestExecution {
        stages: detail
            .stages
            .iter()
            .map(|s| StageStatus {
                name: s.name.clone(),
                status: s.status,
                started_at: s.started_at,
                ended_at: s.ended_at,
            })
            .collect(),
        summary: detail.summary,
        pending_approval,
    }))
}

/// A trigger as one short phrase for the pipeline's row.
fn describe_trigger(trigger: &Trigger) -> String {
    match trigger {
        Trigger::Push {
            branches,
            paths_include,
            ..
        } => {
            let mut s = format!("push {}", branches.join(", "));
            if !paths_include.is_empty() {
                s.push_str(&format!(" ({})", paths_include.join(", ")));
            }
            s
        }
        Trigger::Tag(globs) => format!("tag {}", globs.join(", ")),
        Trigger::Schedule(cron) => format!("schedule {}", cron.0),
    }
}
