//! Turning "run web/deploy at v1.4" into a plan: which repository, which
//! commit, the pipeline file as it is at that commit, and the variables.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::{EngineError, RunRequest};
use crate::spec::pipeline::{ActionType, Pipeline};
use crate::store::{Repository, Store};
use crate::watch::snapshot::{self, Revision};

/// An execution, decided and recorded, about to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub repository: Repository,
    pub revision: Revision,
    pub pipeline: Pipeline,
    /// The pipeline file's text at the revision.
    pub definition: String,
    /// Pipeline variables after overrides.
    pub variables: BTreeMap<String, String>,
    /// Creation order in this engine: for the execution modes.
    pub seq: u64,
    /// Its place among executions arriving at their first stage
    /// (superseded mode), held until it gets there.
    pub arrival: Option<Arc<super::modes::Arrival>>,
}

impl Plan {
    /// `REPO/PIPELINE`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.repository.name, self.pipeline.name)
    }
}

pub(super) fn plan(store: &Store, request: &RunRequest) -> Result<Plan, EngineError> {
    let (repository, pipeline_name) = find_repository(store, &request.pipeline)?;
    if !repository.trusted {
        return Err(EngineError::Untrusted(repository.name));
    }
    let repo_path = Path::new(&repository.path);
    if !repo_path.exists() {
        return Err(EngineError::Missing {
            name: repository.name,
            path: repository.path,
        });
    }
    let mut revision = snapshot::resolve(repo_path, request.revision.as_deref())?;
    if request.branch.is_some() {
        revision.branch = request.branch.clone();
    }
    let files = snapshot::pipeline_files(repo_path, &revision.commit)?;
    let mut found = None;
    for file in files {
        // A file's `name:` may differ from its stem; both find it.
        match crate::spec::pipeline::parse(&file.text, &file.path) {
            Ok(p) if p.name == pipeline_name || file.stem == pipeline_name => {
                found = Some((p, file));
                break;
            }
            Err(errors) if file.stem == pipeline_name => {
                return Err(EngineError::InvalidPipeline {
                    file: format!("{} at {}", file.path, &revision.commit[..12]),
                    errors: errors
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n"),
                });
            }
            _ => {}
        }
    }
    let Some((pipeline, file)) = found else {
        return Err(EngineError::NoSuchPipeline(format!(
            "{}/{} (no .slipway/{}.yml at {})",
            repository.name,
            pipeline_name,
            pipeline_name,
            &revision.commit[..12]
        )));
    };
    let unsupported: Vec<String> = pipeline
        .stages
        .iter()
        .flat_map(|s| &s.actions)
        .filter(|a| matches!(a.r#type, ActionType::Invoke | ActionType::Source))
        .map(|a| format!("`{}` ({})", a.name, a.r#type.as_str()))
        .collect();
    if !unsupported.is_empty() {
        return Err(EngineError::Unsupported {
            pipeline: format!("{}/{}", repository.name, pipeline.name),
            reason: format!(
                "this Slipway does not run {} actions yet",
                unsupported.join(", ")
            ),
        });
    }
    let mut variables: BTreeMap<String, String> = pipeline.variables.iter().cloned().collect();
    for (name, value) in &request.variables {
        if !variables.contains_key(name) {
            return Err(EngineError::Unsupported {
                pipeline: format!("{}/{}", repository.name, pipeline.name),
                reason: format!(
                    "--var {name}: the pipeline declares no variable `{name}` (declared: {})",
                    if variables.is_empty() {
                        "none".to_string()
                    } else {
                        variables.keys().cloned().collect::<Vec<_>>().join(", ")
                    }
                ),
            });
        }
        variables.insert(name.clone(), value.clone());
    }
    Ok(Plan {
        id: uuid::Uuid::new_v4().to_string(),
        repository,
        revision,
        pipeline,
        definition: file.text,
        variables,
        seq: 0,
        arrival: None,
    })
}

/// The plan of an execution that already ran, from its records: the same
/// revision, definition and variables.
pub(super) fn replan(
    store: &Store,
    detail: &crate::store::ExecutionDetail,
    definition: String,
) -> Result<Plan, EngineError> {
    let s = &detail.summary;
    let repository = store
        .repository(&s.repository)?
        .ok_or_else(|| EngineError::NoSuchPipeline(s.pipeline.clone()))?;
    if !repository.trusted {
        return Err(EngineError::Untrusted(repository.name));
    }
    let file = format!(
        "{} at {}",
        s.pipeline,
        &s.revision[..s.revision.len().min(12)]
    );
    let pipeline = crate::spec::pipeline::parse(&definition, &file).map_err(|errors| {
        EngineError::InvalidPipeline {
            file: file.clone(),
            errors: errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    })?;
    Ok(Plan {
        id: s.id.clone(),
        repository,
        revision: Revision {
            commit: s.revision.clone(),
            branch: s.branch.clone(),
            message: s.message.clone(),
            author: String::new(),
        },
        pipeline,
        definition,
        variables: detail.variables.clone(),
        seq: 0,
        arrival: None,
    })
}

/// `REPO/PIPELINE`, or `PIPELINE` alone when one repository has it.
fn find_repository(store: &Store, address: &str) -> Result<(Repository, String), EngineError> {
    if let Some((repo, pipeline)) = address.split_once('/') {
        let repository = store
            .repository(repo)?
            .ok_or_else(|| EngineError::NoSuchPipeline(address.to_string()))?;
        return Ok((repository, pipeline.to_string()));
    }
    let mut holders = Vec::new();
    for repository in store.repositories()? {
        let path = Path::new(&repository.path);
        let Ok(head) = snapshot::resolve(path, None) else {
            continue;
        };
        let files = snapshot::pipeline_files(path, &head.commit).unwrap_or_default();
        if files.iter().any(|f| f.stem == address) {
            holders.push(repository);
        }
    }
    match holders.len() {
        0 => Err(EngineError::NoSuchPipeline(address.to_string())),
        1 => Ok((holders.remove(0), address.to_string())),
        _ => Err(EngineError::Ambiguous {
            name: address.to_string(),
            repos: holders
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}
