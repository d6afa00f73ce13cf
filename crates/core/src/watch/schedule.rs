//! Cron schedules (`schedule:` triggers, local time): the table of every
//! scheduled pipeline and when each fires next. The watcher sleeps until the
//! earliest fire time; nothing here ticks, so an idle engine with schedules
//! wakes only when one is due.
//!
//! Must never read the clock itself: the caller passes "now" in.

use std::str::FromStr;

use chrono::{DateTime, Local};

/// One scheduled pipeline.
#[derive(Debug, Clone)]
struct Entry {
    repository: String,
    pipeline: String,
    text: String,
    cron: croner::Cron,
    next: Option<DateTime<Local>>,
}

/// Every schedule of every watched repository.
#[derive(Debug, Default)]
pub(crate) struct Schedules {
    entries: Vec<Entry>,
}

/// The first fire time of `text` strictly after `after`, or `None` if it
/// never fires (or does not parse: the validator already said why).
#[cfg(test)]
fn next_after(text: &str, after: DateTime<Local>) -> Option<DateTime<Local>> {
    croner::Cron::from_str(text)
        .ok()?
        .find_next_occurrence(&after, false)
        .ok()
}

impl Schedules {
    /// Replaces `repository`'s schedules with `wanted` (`(pipeline, cron)`).
    /// A schedule that did not change keeps its next fire time, so a new
    /// commit does not push a due fire further away.
    pub fn set(&mut self, repository: &str, wanted: &[(String, String)], now: DateTime<Local>) {
        let mut kept: Vec<Entry> = Vec::new();
        for (pipeline, text) in wanted {
            let old = self
                .entries
                .iter()
                .find(|e| e.repository == repository && &e.pipeline == pipeline && &e.text == text);
            if let Some(old) = old {
                kept.push(old.clone());
                continue;
            }
            let Ok(cron) = croner::Cron::from_str(text) else {
                continue;
            };
            let next = cron.find_next_occurrence(&now, false).ok();
            kept.push(Entry {
                repository: repository.to_string(),
                pipeline: pipeline.clone(),
                text: text.clone(),
                cron,
                next,
            });
        }
        self.entries.retain(|e| e.repository != repository);
        self.entries.extend(kept);
    }

    pub fn remove(&mut self, repository: &str) {
        self.entries.retain(|e| e.repository != repository);
    }

    /// When the earliest schedule fires, if any ever does.
    pub fn next_due(&self) -> Option<DateTime<Local>> {
        self.entries.iter().filter_map(|e| e.next).min()
    }

    /// The `(repository, pipeline)` pairs due at `now`, each once even if
    /// several fire times passed (a laptop that slept all night runs the
    /// nightly build once); their next fire times move past `now`.
    pub fn take_due(&mut self, now: DateTime<Local>) -> Vec<(String, String)> {
        let mut due = Vec::new();
        for e in &mut self.entries {
            if e.next.is_some_and(|n| n <= now) {
                due.push((e.repository.clone(), e.pipeline.clone()));
                e.next = e.cron.find_next_occurrence(&now, false).ok();
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Local> {
        Local
            .with_ymd_and_hms(2025, 3, 4, h, m, 0)
            .single()
            .unwrap()
    }

    #[test]
    fn next_fire_time_is_in_local_time_and_strictly_after() {
        assert_eq!(next_after("0 3 * * *", at(2, 59)), Some(at(3, 0)));
        assert_eq!(
            next_after("0 3 * * *", at(3, 0)).map(|t| t.date_naive()),
            Some(at(3, 0).date_naive().succ_opt().unwrap())
        );
        assert_eq!(next_after("*/15 * * * *", at(10, 1)), Some(at(10, 15)));
        assert_eq!(next_after("not cron", at(10, 1)), None);
    }

    #[test]
    fn due_schedules_fire_once_and_move_on() {
        let mut s = Schedules::default();
        s.set("web", &[("nightly".into(), "0 3 * * *".into())], at(1, 0));
        assert_eq!(s.next_due(), Some(at(3, 0)));
        assert!(s.take_due(at(2, 0)).is_empty());
        let due = s.take_due(at(9, 0));
        assert_eq!(due, vec![("web".to_string(), "nightly".to_string())]);
        assert!(s.take_due(at(9, 0)).is_empty());
        assert!(s.next_due().unwrap() > at(9, 0));
    }

    #[test]
    fn an_unchanged_schedule_keeps_its_fire_time_and_removal_forgets() {
        let mut s = Schedules::default();
        let wanted = [("nightly".to_string(), "0 3 * * *".to_string())];
        s.set("web", &wanted, at(1, 0));
        s.set("web", &wanted, at(2, 0));
        assert_eq!(s.next_due(), Some(at(3, 0)));
        s.set("web", &[], at(2, 0));
        assert_eq!(s.next_due(), None);
        s.set("web", &wanted, at(2, 0));
        s.remove("web");
        assert_eq!(s.next_due(), None);
    }
}
