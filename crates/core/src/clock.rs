//! Time: the one unit that crosses every layer ([`Millis`]), the [`Clock`]
//! every part of the core reads "now" from, and the real wall clock.
//!
//! This module (and `platform`) are the only places that read the system
//! time; everything else is handed a clock, so tests decide what "now" is.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch: the one time unit crossing the API.
pub type Millis = i64;

/// Reads the current time. Passed in rather than read from the clock inside
/// the core, so tests decide what "now" is.
pub trait Clock: Send + Sync {
    fn now(&self) -> Millis;

    /// "Now" in the machine's time zone, for what people schedule (cron).
    fn local_now(&self) -> chrono::DateTime<chrono::Local> {
        local(self.now())
    }
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as Millis)
            .unwrap_or(0)
    }
}

/// A shared handle on the real clock, for the parts that are not handed one.
pub fn system() -> std::sync::Arc<dyn Clock> {
    std::sync::Arc::new(SystemClock)
}

/// `at` in the machine's time zone.
pub fn local(at: Millis) -> chrono::DateTime<chrono::Local> {
    chrono::DateTime::from_timestamp_millis(at)
        .unwrap_or_default()
        .with_timezone(&chrono::Local)
}

/// `at` as an RFC 3339 UTC timestamp with milliseconds, the way logs show it.
pub fn rfc3339(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A file's modification time in [`Millis`] (0 when the OS cannot say).
pub fn modified(meta: &std::fs::Metadata) -> Millis {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}
