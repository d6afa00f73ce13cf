//! Repositories as git sees them: which commit a name means, the pipeline
//! files at a commit, and the exact tree of a commit materialised for a
//! build (never the dirty work tree). Watching for new commits and matching
//! triggers will live here too.

pub mod snapshot;
