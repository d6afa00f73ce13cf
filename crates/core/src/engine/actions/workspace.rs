//! An action's workspace: a fresh copy of each of its input artifacts, laid
//! out as CodeBuild lays them out. The first input is the primary source
//! (`CODEBUILD_SRC_DIR`, the commands' working directory); every other
//! input is at `CODEBUILD_SRC_DIR_<name>`. No inputs means the source
//! revision (the execution's snapshot).
//!
//! This module owns that layout. It must never let one action see what
//! another changed (every action gets its own copies), never change the
//! execution's source snapshot or the artifact store's contents, and never
//! stand in an empty directory for an input no earlier action produced.

use std::path::{Path, PathBuf};

use super::scope::ActionJob;
use crate::build::ArtifactStore;
use crate::spec::pipeline::SOURCE_ARTIFACT;

/// Where an action's inputs were laid out.
pub(super) struct Workspace {
    /// The first input: the commands' working directory.
    pub primary: PathBuf,
    /// Every other input, by artifact name.
    pub secondary: Vec<(String, PathBuf)>,
}

/// Lays out the action's inputs: a fresh copy of each, so no action sees
/// what another one changed.
pub(super) fn prepare(job: &ActionJob) -> Result<Workspace, String> {
    let _ = std::fs::remove_dir_all(&job.work_dir);
    let store = ArtifactStore::open(&job.data_dir).map_err(|e| e.to_string())?;
    let lay = |name: &str, digest: &Option<String>, dest: &Path| -> Result<(), String> {
        match digest {
            None if name == SOURCE_ARTIFACT => copy_tree(&job.source_dir, dest)
                .map_err(|e| format!("copying the source into {}: {e}", dest.display())),
            None => Err(format!(
                "input artifact `{name}` was not produced by an earlier action"
            )),
            Some(digest) => store
                .materialize(digest, dest)
                .map_err(|e| format!("input artifact `{name}`: {e}")),
        }
    };
    let primary = job.work_dir.join("src");
    let mut secondary = Vec::new();
    let inputs = if job.inputs.is_empty() {
        vec![(SOURCE_ARTIFACT.to_string(), None)]
    } else {
        job.inputs.clone()
    };
    for (i, (name, digest)) in inputs.iter().enumerate() {
        if i == 0 {
            lay(name, digest, &primary)?;
        } else {
            let dest = job.work_dir.join("inputs").join(name);
            lay(name, digest, &dest)?;
            secondary.push((name.clone(), dest));
        }
    }
    Ok(Workspace { primary, secondary })
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let dest = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            crate::platform::fs::symlink(&target, &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}
