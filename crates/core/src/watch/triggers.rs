//! Trigger matching for pipeline files (`triggers:`): which of a pipeline's
//! `push`, `tag` and `schedule` triggers a ref move or a cron fire matches.
//! Pure: it is given the branch or tag and the changed paths, and never
//! reads git or the clock.
//!
//! Glob rules (globset, `*` stops at `/`, `**` crosses it): a leading `!`
//! excludes and excludes beat includes; a list of only excludes includes
//! everything else; an empty branch list means every branch.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::model::ExecutionTrigger;
use crate::spec::pipeline::{Pipeline, Trigger};

/// What happened, as triggers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// A branch moved or was created: its short name and the changed paths.
    Push {
        branch: String,
        changed: Vec<String>,
    },
    /// A tag was created or moved: its short name.
    Tag { tag: String },
    /// A cron schedule fired.
    Schedule,
}

impl Cause {
    /// The execution's `trigger` field: `push:<branch>`, `tag:<tag>`, `schedule`.
    pub fn label(&self) -> ExecutionTrigger {
        match self {
            Cause::Push { branch, .. } => ExecutionTrigger::Push(branch.clone()),
            Cause::Tag { tag } => ExecutionTrigger::Tag(tag.clone()),
            Cause::Schedule => ExecutionTrigger::Schedule,
        }
    }
}

/// Whether any of `pipeline`'s triggers fires for `cause`.
pub fn fires(pipeline: &Pipeline, cause: &Cause) -> bool {
    pipeline.triggers.iter().any(|t| matches(t, cause))
}

fn matches(trigger: &Trigger, cause: &Cause) -> bool {
    match (trigger, cause) {
        (
            Trigger::Push {
                branches,
                paths_include,
                paths_exclude,
            },
            Cause::Push { branch, changed },
        ) => {
            Patterns::new(branches, true).accepts(branch)
                && paths_match(paths_include, paths_exclude, changed)
        }
        (Trigger::Tag(globs), Cause::Tag { tag }) => Patterns::new(globs, false).accepts(tag),
        // A schedule fire names its pipeline already: see `schedule`.
        (Trigger::Schedule(_), Cause::Schedule) => true,
        _ => false,
    }
}

/// The changed-path filter: no filter passes everything; otherwise at least
/// one changed path must be included and not excluded (so a commit that
/// only touches excluded paths does not trigger, nor does one that changed
/// nothing).
fn paths_match(include: &[String], exclude: &[String], changed: &[String]) -> bool {
    if include.is_empty() && exclude.is_empty() {
        return true;
    }
    let include = Patterns::new(include, true);
    let exclude = Patterns::new(exclude, false);
    changed
        .iter()
        .any(|p| include.accepts(p) && !exclude.includes.is_match(p))
}

/// A list of globs where `!glob` excludes.
struct Patterns {
    includes: GlobSet,
    excludes: GlobSet,
    /// No include globs: everything not excluded is in.
    open: bool,
}

impl Patterns {
    /// `empty_means_all`: whether a list with no includes at all accepts
    /// everything (branch lists, path includes) or nothing (tag lists).
    fn new(globs: &[String], empty_means_all: bool) -> Patterns {
        let (mut inc, mut exc) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        let mut includes = 0;
        for g in globs {
            match g.strip_prefix('!') {
                Some(rest) => {
                    if let Some(glob) = glob(rest) {
                        exc.add(glob);
                    }
                }
                None => {
                    includes += 1;
                    if let Some(glob) = glob(g) {
                        inc.add(glob);
                    }
                }
            }
        }
        let has_excludes = globs.iter().any(|g| g.starts_with('!'));
        Patterns {
            includes: inc.build().unwrap_or_else(|_| GlobSet::empty()),
            excludes: exc.build().unwrap_or_else(|_| GlobSet::empty()),
            open: includes == 0 && (empty_means_all || has_excludes),
        }
    }

    fn accepts(&self, name: &str) -> bool {
        (self.open || self.includes.is_match(name)) && !self.excludes.is_match(name)
    }
}

/// A glob the validator already accepted; one that does not compile here
/// matches nothing rather than everything.
fn glob(pattern: &str) -> Option<Glob> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::pipeline::Cron;

    fn s(items: &[&str]) -> Vec<String> {
        items.iter().map(|i| i.to_string()).collect()
    }

    fn push(branches: &[&str], include: &[&str], exclude: &[&str]) -> Trigger {
        Trigger::Push {
            branches: s(branches),
            paths_include: s(include),
            paths_exclude: s(exclude),
        }
    }

    fn on(branch: &str, changed: &[&str]) -> Cause {
        Cause::Push {
            branch: branch.into(),
            changed: s(changed),
        }
    }

    #[test]
    fn branch_globs_with_excludes() {
        let t = push(&["main", "release/*", "!release/old"], &[], &[]);
        assert!(matches(&t, &on("main", &["a"])));
        assert!(matches(&t, &on("release/1.2", &["a"])));
        assert!(!matches(&t, &on("release/old", &["a"])));
        assert!(!matches(&t, &on("release/1/hotfix", &["a"])));
        assert!(!matches(&t, &on("feature/x", &["a"])));
        let only_excludes = push(&["!wip/**"], &[], &[]);
        assert!(matches(&only_excludes, &on("main", &["a"])));
        assert!(!matches(&only_excludes, &on("wip/me/x", &["a"])));
        assert!(matches(&push(&[], &[], &[]), &on("anything", &[])));
    }

    #[test]
    fn changed_paths_include_and_exclude_and_excludes_win() {
        let t = push(&["main"], &["src/**", "buildspec.yml"], &["src/**/*.md"]);
        assert!(matches(&t, &on("main", &["src/app/main.rs"])));
        assert!(matches(&t, &on("main", &["buildspec.yml", "README"])));
        assert!(!matches(&t, &on("main", &["src/app/NOTES.md"])));
        assert!(!matches(&t, &on("main", &["docs/x"])));
        assert!(!matches(&t, &on("main", &[])));
        let exclude_only = push(&["main"], &[], &["docs/**"]);
        assert!(!matches(&exclude_only, &on("main", &["docs/a/b.md"])));
        assert!(matches(
            &exclude_only,
            &on("main", &["docs/a.md", "Makefile"])
        ));
    }

    #[test]
    fn tags_match_tag_triggers_only() {
        let t = Trigger::Tag(s(&["v*", "!v*-rc*"]));
        let tag = |n: &str| Cause::Tag { tag: n.into() };
        assert!(matches(&t, &tag("v1.2.0")));
        assert!(!matches(&t, &tag("v1.2.0-rc1")));
        assert!(!matches(&t, &tag("nightly")));
        assert!(!matches(&t, &on("v1", &["a"])));
        assert!(!matches(&push(&[], &[], &[]), &tag("v1")));
        assert!(!matches(&Trigger::Tag(vec![]), &tag("v1")));
        let cron = Trigger::Schedule(Cron::parse("0 3 * * *").unwrap());
        assert!(matches(&cron, &Cause::Schedule));
        assert!(!matches(&cron, &tag("v1")));
    }

    #[test]
    fn labels_name_the_ref() {
        assert_eq!(on("main", &[]).label(), "push:main");
        assert_eq!(Cause::Tag { tag: "v1".into() }.label(), "tag:v1");
        assert_eq!(Cause::Schedule.label(), "schedule");
    }
}
