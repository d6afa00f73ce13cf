//! The routing table: which backend answers the next request.
//!
//! A [`Table`] is an immutable snapshot of the sets (replaced whole by
//! `set_sets`, so a request sees one consistent table), with two pieces of
//! interior state: each backend's in-service flag (flipped in place, so
//! taking one instance out does not reset the weights) and the choosers'
//! positions. Sets are chosen by smooth weighted round-robin (nginx's
//! algorithm: exact shares over every `sum(weights)` picks, interleaved, so
//! 10% is 10% from the first requests on); backends inside a set by plain
//! round-robin over those in service.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hyper::header::HeaderValue;

use super::stats::TrafficStats;
use super::BackendSet;

#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) sets: Vec<SetEntry>,
    /// Smooth weighted round-robin's running weight per set.
    current: Mutex<Vec<i64>>,
}

#[derive(Debug)]
pub(crate) struct SetEntry {
    pub(crate) name: Arc<str>,
    /// `x-slipway-set`'s value, made once; `None` for a name that is not a
    /// valid header value (the response then goes without it).
    pub(crate) header: Option<HeaderValue>,
    pub(crate) weight: u32,
    pub(crate) backends: Vec<BackendEntry>,
    cursor: AtomicUsize,
    pub(crate) stats: Arc<TrafficStats>,
}

#[derive(Debug)]
pub(crate) struct BackendEntry {
    pub(crate) addr: SocketAddr,
    pub(crate) in_service: AtomicBool,
}

impl Table {
    /// No sets: every request gets 503.
    pub(crate) fn empty() -> Table {
        Table {
            sets: Vec::new(),
            current: Mutex::new(Vec::new()),
        }
    }

    /// `stats_for` gives each set its counters (kept across tables when a
    /// set keeps its name).
    pub(crate) fn new(
        sets: Vec<BackendSet>,
        mut stats_for: impl FnMut(&str) -> Arc<TrafficStats>,
    ) -> Table {
        let sets: Vec<SetEntry> = sets
            .into_iter()
            .map(|set| SetEntry {
                stats: stats_for(&set.name),
                header: HeaderValue::from_str(&set.name).ok(),
                name: set.name.into(),
                weight: set.weight,
                backends: set
                    .backends
                    .into_iter()
                    .map(|b| BackendEntry {
                        addr: b.addr,
                        in_service: AtomicBool::new(b.in_service),
                    })
                    .collect(),
                cursor: AtomicUsize::new(0),
            })
            .collect();
        let current = Mutex::new(vec![0; sets.len()]);
        Table { sets, current }
    }

    /// Flips every backend with this address; false when there is none.
    pub(crate) fn set_in_service(&self, addr: SocketAddr, in_service: bool) -> bool {
        let mut found = false;
        for backend in self.sets.iter().flat_map(|s| &s.backends) {
            if backend.addr == addr {
                backend.in_service.store(in_service, Ordering::SeqCst);
                found = true;
            }
        }
        found
    }

    /// The set for the next request: weighted over the sets that have
    /// weight and at least one backend in service.
    pub(crate) fn choose_set(&self) -> Option<&SetEntry> {
        // One routable set (the steady state between deployments, and
        // blue/green with the idle set at weight 0): smooth weighted
        // round-robin would add its weight and take it back again, so the
        // answer is that set and the shared state stays as it is.
        let mut routable = self
            .sets
            .iter()
            .filter(|s| s.weight > 0 && s.has_backend_in_service());
        let only = routable.next()?;
        if routable.next().is_none() {
            return Some(only);
        }
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let mut total = 0i64;
        let mut best: Option<usize> = None;
        for (i, set) in self.sets.iter().enumerate() {
            if set.weight == 0 || !set.has_backend_in_service() {
                continue;
            }
            current[i] += i64::from(set.weight);
            total += i64::from(set.weight);
            if best.is_none_or(|b| current[i] > current[b]) {
                best = Some(i);
            }
        }
        let best = best?;
        current[best] -= total;
        Some(&self.sets[best])
    }
}

impl SetEntry {
    fn has_backend_in_service(&self) -> bool {
        self.backends
            .iter()
            .any(|b| b.in_service.load(Ordering::SeqCst))
    }

    /// The next backend in service, round-robin over those in service (so
    /// one taken out does not double its neighbour's share), skipping
    /// `tried` (the backends that already failed this request).
    pub(crate) fn choose_backend(&self, tried: &[SocketAddr]) -> Option<SocketAddr> {
        let usable =
            |b: &&BackendEntry| b.in_service.load(Ordering::SeqCst) && !tried.contains(&b.addr);
        let count = self.backends.iter().filter(usable).count();
        if count == 0 {
            return None;
        }
        if count == 1 {
            // No turn to take: leave the shared cursor alone.
            return self.backends.iter().find(usable).map(|b| b.addr);
        }
        let turn = self.cursor.fetch_add(1, Ordering::Relaxed) % count;
        self.backends
            .iter()
            .filter(usable)
            .nth(turn)
            .map(|b| b.addr)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::deploy::router::Backend;

    fn table(sets: &[(&str, u32, &[u16])]) -> Table {
        let origin = Instant::now();
        Table::new(
            sets.iter()
                .map(|(name, weight, ports)| BackendSet {
                    name: name.to_string(),
                    weight: *weight,
                    backends: ports
                        .iter()
                        .map(|p| Backend::new(SocketAddr::from(([127, 0, 0, 1], *p))))
                        .collect(),
                })
                .collect(),
            |_| Arc::new(TrafficStats::new(origin)),
        )
    }

    fn picks(table: &Table, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                table
                    .choose_set()
                    .map_or("-".into(), |s| s.name.to_string())
            })
            .collect()
    }

    #[test]
    fn weights_give_exact_interleaved_shares() {
        let t = table(&[("blue", 90, &[1]), ("green", 10, &[2])]);
        let got = picks(&t, 100);
        assert_eq!(got.iter().filter(|s| *s == "green").count(), 10);
        // Interleaved: every run of 10 picks has exactly one green.
        for chunk in got.chunks(10) {
            assert_eq!(chunk.iter().filter(|s| *s == "green").count(), 1);
        }
    }

    #[test]
    fn sets_without_weight_or_backends_in_service_get_nothing() {
        let t = table(&[("old", 0, &[1]), ("new", 50, &[2]), ("empty", 50, &[])]);
        assert!(picks(&t, 10).iter().all(|s| s == "new"));
        t.set_in_service(SocketAddr::from(([127, 0, 0, 1], 2)), false);
        assert_eq!(picks(&t, 1), ["-"]);
    }

    #[test]
    fn backends_rotate_and_skip_those_out_of_service_or_tried() {
        let t = table(&[("blue", 1, &[1, 2, 3])]);
        let set = &t.sets[0];
        let port = |a: Option<SocketAddr>| a.map(|a| a.port());
        let first: Vec<_> = (0..3).map(|_| port(set.choose_backend(&[]))).collect();
        assert_eq!(first, [Some(1), Some(2), Some(3)]);
        assert!(t.set_in_service(SocketAddr::from(([127, 0, 0, 1], 2)), false));
        assert!(!t.set_in_service(SocketAddr::from(([127, 0, 0, 1], 9)), false));
        let later: Vec<_> = (0..4).map(|_| port(set.choose_backend(&[]))).collect();
        assert!(later.iter().all(|p| *p != Some(2)));
        let tried = [SocketAddr::from(([127, 0, 0, 1], 1))];
        assert_eq!(port(set.choose_backend(&tried)), Some(3));
    }
}
