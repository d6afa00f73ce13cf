//! What git says a repository's branches and tags point at, how that
//! differs from what was last recorded, and which commits a ref's move asks
//! to build with the paths each one changed. Read with git2 only; never
//! writes to the repository.

use std::collections::BTreeMap;

use git2::{Oid, Repository, Sort};

/// Branches here; everything else (remotes, notes, stash) never triggers.
pub(crate) const BRANCH_PREFIX: &str = "refs/heads/";
pub(crate) const TAG_PREFIX: &str = "refs/tags/";

/// A pull that brings more commits than this builds only the newest ones:
/// nobody wants five hundred executions from one `git pull`.
pub(crate) const MAX_COMMITS_PER_MOVE: usize = 100;

/// Every branch and tag, by full ref name, to the commit it points at (tags
/// peeled: an annotated tag names its commit).
pub(crate) fn read(repo: &Repository) -> Result<BTreeMap<String, String>, git2::Error> {
    let mut heads = BTreeMap::new();
    for reference in repo.references()? {
        let reference = reference?;
        let Some(name) = reference.name().ok() else {
            continue;
        };
        if !(name.starts_with(BRANCH_PREFIX) || name.starts_with(TAG_PREFIX)) {
            continue;
        }
        // A ref to a tree or a blob is not something a pipeline can build.
        if let Ok(commit) = reference.peel_to_commit() {
            heads.insert(name.to_string(), commit.id().to_string());
        }
    }
    Ok(heads)
}

/// One ref that moved since it was last recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub reference: String,
    /// Where it pointed, if it existed (live) when last recorded.
    pub old: Option<String>,
    /// Where it points now; `None` = deleted.
    pub new: Option<String>,
}

/// A ref as recorded: its commit, and whether it was deleted.
pub(crate) type Recorded = BTreeMap<String, (String, bool)>;

/// What moved between `recorded` and `current`, in ref-name order. A ref
/// that comes back at the commit it had when it vanished is no change: `git
/// gc` and `git pack-refs` make loose refs vanish for an instant while they
/// move into `packed-refs`.
pub(crate) fn changes(recorded: &Recorded, current: &BTreeMap<String, String>) -> Vec<Change> {
    let mut out = Vec::new();
    for (reference, commit) in current {
        match recorded.get(reference) {
            Some((old, _)) if old == commit => {}
            Some((old, deleted)) => out.push(Change {
                reference: reference.clone(),
                old: (!deleted).then(|| old.clone()),
                new: Some(commit.clone()),
            }),
            None => out.push(Change {
                reference: reference.clone(),
                old: None,
                new: Some(commit.clone()),
            }),
        }
    }
    for (reference, (old, deleted)) in recorded {
        if !deleted && !current.contains_key(reference) {
            out.push(Change {
                reference: reference.clone(),
                old: Some(old.clone()),
                new: None,
            });
        }
    }
    out.sort_by(|a, b| a.reference.cmp(&b.reference));
    out
}

/// A commit to consider building, with the paths it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub commit: String,
    pub changed: Vec<String>,
}

/// The branch new branches are compared with: `origin/HEAD`'s branch, else
/// `init.defaultBranch`, `main`, `master`, or the checked-out branch.
pub(crate) fn default_branch(repo: &Repository) -> Option<String> {
    let exists = |b: &str| repo.find_reference(&format!("{BRANCH_PREFIX}{b}")).is_ok();
    if let Ok(origin) = repo.find_reference("refs/remotes/origin/HEAD") {
        if let Some(target) = origin.symbolic_target().ok().flatten() {
            if let Some(b) = target.strip_prefix("refs/remotes/origin/") {
                if exists(b) {
                    return Some(b.to_string());
                }
            }
        }
    }
    let configured = repo
        .config()
        .ok()
        .and_then(|c| c.get_string("init.defaultBranch").ok());
    for b in configured
        .iter()
        .map(String::as_str)
        .chain(["main", "master"])
    {
        if exists(b) {
            return Some(b.to_string());
        }
    }
    let head = repo.head().ok()?;
    head.is_branch()
        .then(|| head.shorthand().ok().map(str::to_string))
        .flatten()
}

/// The commits a branch's move asks to build, oldest first.
///
/// - A fast-forward (the old head is an ancestor): every commit it brought
///   along the first-parent line, so `queued` pipelines run each one and
///   `superseded` ones record each one; each commit's changed paths are its
///   diff with its first parent. A merge counts as one commit.
/// - A force-push or rebase (the new head does not descend from the old
///   one): the new head alone, with the paths that differ between the old
///   head's tree and the new one — what changes in what gets built.
/// - A new branch: its head, with the paths changed since its merge base
///   with the default branch (everything, when there is none).
pub(crate) fn candidates(
    repo: &Repository,
    branch: &str,
    old: Option<&str>,
    new: &str,
) -> Result<Vec<Candidate>, git2::Error> {
    let new_id = Oid::from_str(new)?;
    let old_id = old.and_then(|o| Oid::from_str(o).ok());
    let base = match old_id {
        Some(old_id) if repo.find_commit(old_id).is_ok() => {
            if repo.graph_descendant_of(new_id, old_id)? {
                return fast_forward(repo, old_id, new_id);
            }
            Some(old_id)
        }
        // The old head is gone from the object store (pruned): treat the
        // branch as new.
        _ => default_branch(repo)
            .filter(|d| d != branch)
            .and_then(|d| repo.find_reference(&format!("{BRANCH_PREFIX}{d}")).ok())
            .and_then(|r| r.peel_to_commit().ok())
            .and_then(|d| repo.merge_base(d.id(), new_id).ok()),
    };
    Ok(vec![Candidate {
        commit: new.to_string(),
        changed: changed_paths(repo, base, new_id)?,
    }])
}

fn fast_forward(repo: &Repository, old: Oid, new: Oid) -> Result<Vec<Candidate>, git2::Error> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
    walk.simplify_first_parent()?;
    walk.push(new)?;
    walk.hide(old)?;
    let ids: Vec<Oid> = walk.collect::<Result<_, _>>()?;
    let skip = ids.len().saturating_sub(MAX_COMMITS_PER_MOVE);
    ids[skip..]
        .iter()
        .map(|&id| {
            let parent = repo.find_commit(id)?.parent_id(0).ok();
            Ok(Candidate {
                commit: id.to_string(),
                changed: changed_paths(repo, parent, id)?,
            })
        })
        .collect()
}

/// Paths that differ between `from`'s tree (nothing, when `None`) and
/// `to`'s. A rename lists both its old and new path.
pub(crate) fn changed_paths(
    repo: &Repository,
    from: Option<Oid>,
    to: Oid,
) -> Result<Vec<String>, git2::Error> {
    let old_tree = match from {
        Some(id) => Some(repo.find_commit(id)?.tree()?),
        None => None,
    };
    let new_tree = repo.find_commit(to)?.tree()?;
    let diff = repo.diff_tree_to_tree(old_tree.as_ref(), Some(&new_tree), None)?;
    let mut paths = Vec::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(path) = file.path().and_then(|p| p.to_str()) {
                paths.push(path.to_string());
            }
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(entries: &[(&str, &str, bool)]) -> Recorded {
        entries
            .iter()
            .map(|(r, c, d)| (r.to_string(), (c.to_string(), *d)))
            .collect()
    }

    fn cur(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(r, c)| (r.to_string(), c.to_string()))
            .collect()
    }

    #[test]
    fn moves_creations_and_deletions_are_changes() {
        let recorded = rec(&[
            ("refs/heads/main", "a", false),
            ("refs/heads/old", "b", false),
        ]);
        let current = cur(&[("refs/heads/main", "c"), ("refs/tags/v1", "c")]);
        let got = changes(&recorded, &current);
        let summary: Vec<_> = got
            .iter()
            .map(|c| (c.reference.as_str(), c.old.as_deref(), c.new.as_deref()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("refs/heads/main", Some("a"), Some("c")),
                ("refs/heads/old", Some("b"), None),
                ("refs/tags/v1", None, Some("c")),
            ]
        );
    }

    #[test]
    fn a_ref_back_at_its_last_commit_is_no_change_but_elsewhere_is_new() {
        let recorded = rec(&[("refs/heads/main", "a", true)]);
        assert!(changes(&recorded, &cur(&[("refs/heads/main", "a")])).is_empty());
        let moved = changes(&recorded, &cur(&[("refs/heads/main", "b")]));
        assert_eq!(moved[0].old, None);
        assert_eq!(moved[0].new.as_deref(), Some("b"));
        assert!(changes(&recorded, &cur(&[])).is_empty());
    }
}
