//! Fixtures for tests: real git repositories in temp dirs, built by small
//! helpers so a test reads like the user's story.

use std::path::{Path, PathBuf};

/// A real git repository (branch `main`) in a temp dir.
pub struct GitRepo {
    dir: tempfile::TempDir,
    repo: git2::Repository,
}

impl Default for GitRepo {
    fn default() -> Self {
        Self::new()
    }
}

impl GitRepo {
    pub fn new() -> GitRepo {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("main");
        let repo = git2::Repository::init_opts(dir.path().join("repo"), &opts).expect("git init");
        GitRepo { dir, repo }
    }

    /// The work tree.
    pub fn path(&self) -> &Path {
        self.repo.workdir().expect("work tree")
    }

    /// A scratch folder beside the repository (not inside it).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn write(&self, path: &str, content: &str) {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }

    /// Writes a file with git's executable mode (where the OS keeps modes).
    pub fn write_executable(&self, path: &str, content: &str) {
        self.write(path, content);
        crate::platform::fs::set_mode(&self.path().join(path), 0o755).unwrap();
    }

    /// Commits every change in the work tree; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        let mut index = self.repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("Release Manager", "rm@example.com").unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap()
            .to_string()
    }

    /// A lightweight tag on HEAD.
    pub fn tag(&self, name: &str) {
        let head = self
            .repo
            .head()
            .unwrap()
            .peel(git2::ObjectType::Commit)
            .unwrap();
        self.repo.tag_lightweight(name, &head, false).unwrap();
    }
}
