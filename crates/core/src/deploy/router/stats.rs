//! What the router counts: responses by status class, the errors it made
//! itself, and a sliding window of requests and errors for the alarm.
//!
//! Memory is bounded: the window is a ring of [`WINDOW_SECONDS`] one-second
//! buckets, reused as time moves on. Time is passed in (`now`), never read
//! here, so tests control it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use serde::Serialize;

/// How far back [`TrafficStats::error_rate`] can look. Ten minutes covers
/// CloudWatch-style alarm periods (1–5 minutes, a few evaluation periods)
/// while keeping each set's ring at 600 small buckets.
pub const WINDOW_SECONDS: u64 = 600;

/// How one request ended, as the router saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A backend answered with this status.
    Answered(StatusCode),
    /// The backend could not be reached or failed before its response
    /// head: the router answered 502.
    ProxyError,
    /// No backend was in service: the router answered 503.
    Unavailable,
}

impl Outcome {
    /// Whether the alarm counts it: a 5xx from the service, or one of the
    /// router's own 502 / 503.
    fn is_error(self) -> bool {
        match self {
            Outcome::Answered(status) => status.is_server_error(),
            Outcome::ProxyError | Outcome::Unavailable => true,
        }
    }
}

/// Cumulative counts since the set (or the router) appeared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TrafficCounts {
    /// Responses from a backend with a status below 300 (1xx included:
    /// hyper never hands an interim response over as final).
    pub status_2xx: u64,
    pub status_3xx: u64,
    pub status_4xx: u64,
    /// 5xx answered by a backend (not by the router).
    pub status_5xx: u64,
    /// 502s made by the router: the backend was down or broke before its
    /// response head.
    pub proxy_errors: u64,
    /// 503s made by the router: no backend in service.
    pub unavailable: u64,
}

impl TrafficCounts {
    /// Every request that got a response head.
    pub fn requests(&self) -> u64 {
        self.status_2xx
            + self.status_3xx
            + self.status_4xx
            + self.status_5xx
            + self.proxy_errors
            + self.unavailable
    }

    /// What the alarm counts as failed: 5xx, proxy errors and 503s.
    pub fn errors(&self) -> u64 {
        self.status_5xx + self.proxy_errors + self.unavailable
    }
}

/// One second of the sliding window. `second` says which second the
/// counts belong to (`EMPTY` for none yet); a recorder that finds its own
/// second there only adds to the counts, so the common case is two
/// uncontended-by-locks atomic adds. Moving a bucket to a new second (once
/// per second per ring, not per request) happens under `rotate`.
#[derive(Debug)]
struct Bucket {
    /// Seconds since `origin` this bucket currently holds.
    second: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
}

const EMPTY: u64 = u64::MAX;

impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            second: AtomicU64::new(EMPTY),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }
}

/// Counters for one set, or for the whole router.
#[derive(Debug)]
pub(crate) struct TrafficStats {
    origin: Instant,
    // status_2xx, 3xx, 4xx, 5xx, proxy_errors, unavailable
    counts: [AtomicU64; 6],
    window: Box<[Bucket]>,
    /// Held while a bucket moves to a new second, so two recorders of the
    /// new second cannot both reset it (and lose the other's count).
    rotate: Mutex<()>,
}

impl TrafficStats {
    pub(crate) fn new(origin: Instant) -> Self {
        TrafficStats {
            origin,
            counts: Default::default(),
            window: (0..WINDOW_SECONDS).map(|_| Bucket::default()).collect(),
            rotate: Mutex::new(()),
        }
    }

    pub(crate) fn record(&self, outcome: Outcome, now: Instant) {
        let slot = match outcome {
            Outcome::Answered(s) if s.as_u16() < 300 => 0,
            Outcome::Answered(s) if s.as_u16() < 400 => 1,
            Outcome::Answered(s) if s.as_u16() < 500 => 2,
            Outcome::Answered(_) => 3,
            Outcome::ProxyError => 4,
            Outcome::Unavailable => 5,
        };
        self.counts[slot].fetch_add(1, Ordering::Relaxed);

        let second = self.second_of(now);
        let bucket = &self.window[(second % WINDOW_SECONDS) as usize];
        if bucket.second.load(Ordering::Acquire) != second {
            let _rotate = self.rotate.lock().unwrap_or_else(|p| p.into_inner());
            // Someone else may have moved it while we waited.
            if bucket.second.load(Ordering::Acquire) != second {
                bucket.requests.store(0, Ordering::Relaxed);
                bucket.errors.store(0, Ordering::Relaxed);
                // Published after the reset: whoever sees the new second
                // adds to zeroed counts.
                bucket.second.store(second, Ordering::Release);
            }
        }
        bucket.requests.fetch_add(1, Ordering::Relaxed);
        if outcome.is_error() {
            bucket.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn counts(&self) -> TrafficCounts {
        let c = |i: usize| self.counts[i].load(Ordering::Relaxed);
        TrafficCounts {
            status_2xx: c(0),
            status_3xx: c(1),
            status_4xx: c(2),
            status_5xx: c(3),
            proxy_errors: c(4),
            unavailable: c(5),
        }
    }

    /// Errors / requests over the last `window` (rounded up to whole
    /// seconds, at least 1, at most [`WINDOW_SECONDS`]) ending at `now`;
    /// 0.0 when there were no requests.
    pub(crate) fn error_rate(&self, window: Duration, now: Instant) -> f64 {
        let seconds = window
            .as_secs()
            .saturating_add(u64::from(window.subsec_nanos() > 0))
            .clamp(1, WINDOW_SECONDS);
        let current = self.second_of(now);
        let oldest = (current + 1).saturating_sub(seconds);
        let (requests, errors) = self
            .window
            .iter()
            .filter(|b| {
                let s = b.second.load(Ordering::Acquire);
                s != EMPTY && s >= oldest && s <= current
            })
            .fold((0u64, 0u64), |(r, e), b| {
                (
                    r + b.requests.load(Ordering::Relaxed),
                    e + b.errors.load(Ordering::Relaxed),
                )
            });
        if requests == 0 {
            0.0
        } else {
            errors as f64 / requests as f64
        }
    }

    fn second_of(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Outcome {
        Outcome::Answered(StatusCode::OK)
    }

    #[test]
    fn counts_each_status_class_and_router_error() {
        let t0 = Instant::now();
        let stats = TrafficStats::new(t0);
        for outcome in [
            ok(),
            Outcome::Answered(StatusCode::FOUND),
            Outcome::Answered(StatusCode::NOT_FOUND),
            Outcome::Answered(StatusCode::INTERNAL_SERVER_ERROR),
            Outcome::ProxyError,
            Outcome::Unavailable,
        ] {
            stats.record(outcome, t0);
        }
        let counts = stats.counts();
        assert_eq!(counts.requests(), 6);
        assert_eq!(counts.errors(), 3);
        assert_eq!((counts.status_2xx, counts.status_3xx), (1, 1));
        assert_eq!((counts.status_4xx, counts.status_5xx), (1, 1));
        assert_eq!((counts.proxy_errors, counts.unavailable), (1, 1));
    }

    #[test]
    fn the_error_rate_forgets_what_left_the_window() {
        let t0 = Instant::now();
        let stats = TrafficStats::new(t0);
        // An outage at the start, then a minute of good traffic.
        for _ in 0..10 {
            stats.record(Outcome::ProxyError, t0);
        }
        for s in 1..=60 {
            stats.record(ok(), t0 + Duration::from_secs(s));
        }
        let now = t0 + Duration::from_secs(60);
        assert_eq!(stats.error_rate(Duration::from_secs(30), now), 0.0);
        assert_eq!(stats.error_rate(Duration::from_secs(61), now), 10.0 / 70.0);
        // Cumulative counts keep everything.
        assert_eq!(stats.counts().proxy_errors, 10);
    }

    #[test]
    fn the_ring_reuses_buckets_without_mixing_laps() {
        let t0 = Instant::now();
        let stats = TrafficStats::new(t0);
        stats.record(Outcome::Unavailable, t0);
        // Same bucket index one lap later: the old error must not count.
        let lap = t0 + Duration::from_secs(WINDOW_SECONDS);
        stats.record(ok(), lap);
        assert_eq!(stats.error_rate(Duration::from_secs(5), lap), 0.0);
        assert_eq!(stats.error_rate(Duration::from_secs(3600), lap), 0.0);
        // Nothing recorded recently: no requests, no error rate.
        let later = lap + Duration::from_secs(10);
        assert_eq!(stats.error_rate(Duration::from_secs(5), later), 0.0);
    }
}
