//! What a moved ref or a due schedule starts: the commits to build, the
//! pipelines whose triggers fire at each commit (read at that commit), and
//! the engine requests, in commit order. Also the schedules table's upkeep.
//! Heads are recorded only after the executions they start were created.

use std::path::Path;

use super::State;
use crate::model::RunRequest;
use crate::spec::pipeline::Trigger;
use crate::watch::triggers::{self, Cause};
use crate::watch::{heads, snapshot, WatchEvent};

impl State {
    /// Compares the repository's heads with the recorded ones and triggers
    /// what moved.
    pub(super) fn sync_heads(&mut self, name: &str, repo: &git2::Repository) {
        let current = match heads::read(repo) {
            Ok(current) => current,
            Err(err) => return self.fail(name, format!("cannot read its refs: {err}")),
        };
        let now = self.clock.now();
        let recorded = match self.store.heads(name) {
            Ok(recorded) => recorded,
            Err(err) => return self.fail(name, err.to_string()),
        };
        let Some(recorded) = recorded else {
            // First look: a baseline. Adding a repository builds nothing.
            let all: Vec<(&str, Option<&str>)> = current
                .iter()
                .map(|(r, c)| (r.as_str(), Some(c.as_str())))
                .collect();
            if let Err(err) = self.store.record_heads(name, &all, now) {
                self.fail(name, err.to_string());
            }
            self.refresh_schedules(name, repo);
            return;
        };
        let recorded: heads::Recorded = recorded
            .into_iter()
            .map(|(r, h)| (r, (h.commit, h.deleted)))
            .collect();
        // Refs back from a `git gc` at their old commit: live again, silently.
        let back: Vec<(&str, Option<&str>)> = current
            .iter()
            .filter(|(r, c)| recorded.get(*r) == Some(&((*c).clone(), true)))
            .map(|(r, c)| (r.as_str(), Some(c.as_str())))
            .collect();
        let mut result = self.store.record_heads(name, &back, now);
        let workdir = self.repos[name].workdir.clone();
        for change in heads::changes(&recorded, &current) {
            if let Some(new) = &change.new {
                if let Some(branch) = change.reference.strip_prefix(heads::BRANCH_PREFIX) {
                    match heads::candidates(repo, branch, change.old.as_deref(), new) {
                        Ok(candidates) => {
                            for c in candidates {
                                let cause = Cause::Push {
                                    branch: branch.to_string(),
                                    changed: c.changed,
                                };
                                self.fire(name, &workdir, &cause, &c.commit);
                            }
                        }
                        Err(err) => self.fail(name, format!("reading {}: {err}", change.reference)),
                    }
                } else if let Some(tag) = change.reference.strip_prefix(heads::TAG_PREFIX) {
                    let cause = Cause::Tag {
                        tag: tag.to_string(),
                    };
                    self.fire(name, &workdir, &cause, new);
                }
            }
            let update = [(change.reference.as_str(), change.new.as_deref())];
            result = result.and(self.store.record_heads(name, &update, now));
        }
        if let Err(err) = result {
            self.fail(name, err.to_string());
        }
        self.refresh_schedules(name, repo);
    }

    fn fail(&self, name: &str, error: String) {
        tracing::warn!(repository = name, %error, "watching");
        self.emit(WatchEvent::Error {
            repository: name.to_string(),
            error,
        });
    }

    /// Starts every pipeline at `commit` whose triggers fire for `cause`.
    fn fire(&self, name: &str, workdir: &Path, cause: &Cause, commit: &str) {
        let files = match snapshot::pipeline_files(workdir, commit) {
            Ok(files) => files,
            Err(err) => return self.fail(name, err.to_string()),
        };
        for file in files {
            let pipeline = match crate::spec::pipeline::parse(&file.text, &file.path) {
                Ok(pipeline) => pipeline,
                Err(errors) => {
                    let error = errors.first().map(|e| e.to_string()).unwrap_or_default();
                    self.emit(WatchEvent::InvalidPipeline {
                        repository: name.to_string(),
                        file: file.path,
                        commit: commit.to_string(),
                        error,
                    });
                    continue;
                }
            };
            if triggers::fires(&pipeline, cause) {
                self.start(name, &pipeline.name, cause, commit);
            }
        }
    }

    fn start(&self, name: &str, pipeline: &str, cause: &Cause, revision: &str) {
        let request = RunRequest {
            pipeline: format!("{name}/{pipeline}"),
            revision: Some(revision.to_string()),
            variables: Default::default(),
            trigger: cause.label(),
            branch: match cause {
                Cause::Push { branch, .. } => Some(branch.clone()),
                _ => None,
            },
        };
        let (repository, pipeline, trigger) =
            (name.to_string(), pipeline.to_string(), cause.label());
        let commit = revision.to_string();
        if self.store.flag(crate::model::settings::WATCHING_PAUSED) {
            return self.emit(WatchEvent::Paused {
                repository,
                pipeline,
                trigger,
                commit,
            });
        }
        self.emit(match self.engine.clone().start_run(&request) {
            Ok(execution) => WatchEvent::Triggered {
                repository,
                pipeline,
                trigger,
                commit,
                execution,
            },
            Err(err) => WatchEvent::TriggerFailed {
                repository,
                pipeline,
                trigger,
                commit,
                error: err.to_string(),
            },
        });
    }

    /// Re-reads the schedules from the default branch when its head moved.
    fn refresh_schedules(&mut self, name: &str, repo: &git2::Repository) {
        let tip = heads::default_branch(repo).and_then(|b| {
            let r = repo
                .find_reference(&format!("{}{b}", heads::BRANCH_PREFIX))
                .ok()?;
            Some(r.peel_to_commit().ok()?.id().to_string())
        });
        let Some(w) = self.repos.get_mut(name) else {
            return;
        };
        if tip == w.schedules_at {
            return;
        }
        w.schedules_at = tip.clone();
        let mut wanted = Vec::new();
        if let Some(tip) = &tip {
            for file in snapshot::pipeline_files(&w.workdir, tip).unwrap_or_default() {
                let Ok(pipeline) = crate::spec::pipeline::parse(&file.text, &file.path) else {
                    continue;
                };
                for trigger in &pipeline.triggers {
                    if let Trigger::Schedule(cron) = trigger {
                        wanted.push((pipeline.name.clone(), cron.0.clone()));
                    }
                }
            }
        }
        self.schedules.set(name, &wanted, self.clock.local_now());
    }

    /// Runs the schedules that are due, on their default branch's head.
    pub(super) fn fire_schedules(&mut self) {
        for (name, pipeline) in self.schedules.take_due(self.clock.local_now()) {
            let Some(w) = self.repos.get(&name) else {
                continue;
            };
            let branch = git2::Repository::open(&w.workdir)
                .ok()
                .and_then(|r| heads::default_branch(&r));
            match branch {
                Some(branch) => self.start(&name, &pipeline, &Cause::Schedule, &branch),
                None => self.fail(
                    &name,
                    "a schedule fired, but it has no default branch".into(),
                ),
            }
        }
    }
}
