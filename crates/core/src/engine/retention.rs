//! What Slipway keeps on disk after executions end. Artifacts are kept for
//! each pipeline's newest executions and its newest successful ones, for
//! each environment's last successful deployments (what `slipway rollback`
//! restores), and always for executions still running. Older executions
//! keep their records and logs; their artifacts and action workspaces are
//! removed.

use std::collections::BTreeSet;
use std::path::Path;

use crate::build::ArtifactStore;
use crate::store::Store;

/// Each pipeline's newest executions whose artifacts and workspaces stay.
pub const KEEP_RECENT: u32 = 10;
/// Each pipeline's newest successful executions whose artifacts stay.
pub const KEEP_SUCCEEDED: u32 = 3;
/// Each environment's newest successful deployments whose artifacts stay:
/// the revisions a rollback can restore.
pub const KEEP_DEPLOYED: u32 = 5;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub artifacts_removed: usize,
    pub bytes_freed: u64,
    pub workspaces_removed: usize,
}

/// Removes what the policy no longer keeps. The caller makes sure no build
/// is storing an artifact meanwhile (the artifact store's rule).
pub fn sweep(store: &Store, data_dir: &Path) -> Result<Swept, String> {
    let keep = store
        .executions_to_keep(KEEP_RECENT, KEEP_SUCCEEDED)
        .map_err(|e| e.to_string())?;
    let mut digests = store.artifact_digests(&keep).map_err(|e| e.to_string())?;
    digests.extend(
        store
            .deployment_digests_to_keep(KEEP_DEPLOYED)
            .map_err(|e| e.to_string())?,
    );
    let artifacts = ArtifactStore::open(data_dir).map_err(|e| e.to_string())?;
    let report = artifacts.retain(&digests).map_err(|e| e.to_string())?;
    let mut swept = Swept {
        artifacts_removed: report.manifests_removed,
        bytes_freed: report.bytes_freed,
        workspaces_removed: 0,
    };
    let keep: BTreeSet<&str> = keep.iter().map(String::as_str).collect();
    let Ok(entries) = std::fs::read_dir(data_dir.join("executions")) else {
        return Ok(swept);
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name.to_str() else { continue };
        if keep.contains(id) {
            continue;
        }
        // Logs stay: they are the record. Workspaces are reproducible.
        for dir in ["actions", "source"] {
            let path = entry.path().join(dir);
            if path.exists() && std::fs::remove_dir_all(&path).is_ok() {
                swept.workspaces_removed += 1;
            }
        }
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ArtifactRecord, NewExecution, NewStage};
    use std::collections::BTreeMap;

    #[test]
    fn old_artifacts_go_while_recent_and_last_good_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let artifacts = ArtifactStore::open(dir.path()).unwrap();
        let vars = BTreeMap::new();
        let mut ids = Vec::new();
        // One good execution long ago, then many failures after it.
        for n in 0..(KEEP_RECENT + 5) {
            let id = format!("exec-{n:02}");
            store
                .create_execution(&NewExecution {
                    id: &id,
                    repository: "web",
                    pipeline: "ci",
                    revision: "abc",
                    branch: None,
                    message: "",
                    trigger: &crate::model::ExecutionTrigger::Manual,
                    variables: &vars,
                    definition: "",
                    started_at: n as i64,
                    stages: vec![NewStage {
                        name: "Build",
                        actions: vec![("a", crate::model::ActionType::Build, 1)],
                    }],
                })
                .unwrap();
            let status = if n == 0 {
                crate::engine::Status::Succeeded
            } else {
                crate::engine::Status::Failed
            };
            store
                .set_execution_status(&id, status, Some(n as i64), None)
                .unwrap();
            let files = dir.path().join(format!("files-{n}"));
            std::fs::create_dir_all(&files).unwrap();
            std::fs::write(files.join("app.txt"), format!("build {n}")).unwrap();
            let stored = artifacts.put_tree(&files).unwrap();
            store
                .put_artifact(
                    &id,
                    &ArtifactRecord {
                        name: "app".into(),
                        digest: stored.digest.clone(),
                        size: stored.size,
                        files: stored.file_count as u64,
                        action: "a".into(),
                    },
                )
                .unwrap();
            std::fs::create_dir_all(dir.path().join("executions").join(&id).join("actions"))
                .unwrap();
            std::fs::create_dir_all(dir.path().join("executions").join(&id).join("logs")).unwrap();
            ids.push((id, stored.digest));
        }
        let swept = sweep(&store, dir.path()).unwrap();
        assert_eq!(swept.artifacts_removed, 4, "{swept:?}");
        for (n, (id, digest)) in ids.iter().enumerate() {
            let kept = n == 0 || n >= 5;
            let out = dir.path().join("check").join(id);
            assert_eq!(
                artifacts.materialize(digest, &out).is_ok(),
                kept,
                "execution {n}"
            );
            let exec = dir.path().join("executions").join(id);
            assert_eq!(exec.join("actions").exists(), kept, "workspace of {n}");
            assert!(exec.join("logs").exists(), "logs always stay");
        }
    }
}
