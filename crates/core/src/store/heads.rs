//! The branch and tag heads last seen in each watched repository (owned by
//! the watch work: see `crate::watch`).

/// 3: last seen heads of watched repositories.
pub(super) const MIGRATION: &str = "CREATE TABLE repository_heads (
        repository TEXT NOT NULL,
        reference  TEXT NOT NULL,
        commit_id  TEXT NOT NULL,
        seen_at    INTEGER NOT NULL,
        PRIMARY KEY (repository, reference)
    ) STRICT;";
