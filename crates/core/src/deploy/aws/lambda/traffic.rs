//! An alias's traffic as numbers and words: the weight a strategy step
//! gives the new version, and what an alias's routing means as shares of
//! requests, for the deployment's steps and the Environments page. Pure.

use std::collections::HashMap;

use crate::deploy::strategy::{self, TrafficStep};
use crate::model::Share;
use crate::spec::pipeline::Strategy;

/// The weight (0..1) of `AdditionalVersionWeights` for a step that gives
/// the new version `percent` of the requests; `None` at 100%, where the
/// alias points at the new version itself with no weights.
pub fn weight(percent: u32) -> Option<f64> {
    (percent < 100).then(|| f64::from(percent) / 100.0)
}

/// The steps of a Lambda deployment: canary and linear as they say, every
/// other kind (all-at-once, blue-green, rolling) one move of all traffic,
/// since an alias has no instances to move in batches.
pub fn steps(strategy: &Strategy) -> Vec<TrafficStep> {
    strategy::traffic_steps(strategy)
}

/// The shares an alias's routing gives: its own version takes what the
/// additional versions leave. Versions in version order after the main one.
pub fn shares(version: &str, weights: &HashMap<String, f64>) -> Vec<Share> {
    let mut extra: Vec<(&String, f64)> = weights
        .iter()
        .filter(|(v, _)| v.as_str() != version)
        .map(|(v, w)| (v, w.clamp(0.0, 1.0)))
        .collect();
    extra.sort_by_key(|(v, _)| version_key(v));
    let others: f64 = extra.iter().map(|(_, w)| w).sum();
    let mut out = vec![Share {
        name: format!("version {version}"),
        percent: percent_of((1.0 - others).max(0.0)),
    }];
    out.extend(extra.into_iter().map(|(v, w)| Share {
        name: format!("version {v}"),
        percent: percent_of(w),
    }));
    out
}

/// "alias live → version 3", with " (10% to version 4)" while traffic is
/// split.
pub fn summary(alias: &str, version: &str, weights: &HashMap<String, f64>) -> String {
    let mut text = format!("alias {alias} → version {version}");
    let split: Vec<String> = shares(version, weights)
        .into_iter()
        .skip(1)
        .map(|s| format!("{}% to {}", trim(s.percent), s.name))
        .collect();
    if !split.is_empty() {
        text.push_str(&format!(" ({})", split.join(", ")));
    }
    text
}

/// A weight as a percentage, rounded to hundredths (0.1 is 10, not
/// 10.000000000000002).
fn percent_of(weight: f64) -> f64 {
    (weight * 10_000.0).round() / 100.0
}

/// 10.0 as "10", 12.5 as "12.5".
fn trim(percent: f64) -> String {
    let text = format!("{percent:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Sorts numeric versions as numbers ("10" after "9"), others after them.
fn version_key(v: &str) -> (u64, String) {
    (v.parse().unwrap_or(u64::MAX), v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::pipeline::{Duration as SpecDuration, Percent};

    fn weights(pairs: &[(&str, f64)]) -> HashMap<String, f64> {
        pairs.iter().map(|(v, w)| (v.to_string(), *w)).collect()
    }

    #[test]
    fn each_step_weighs_the_new_version_by_its_share() {
        let canary = Strategy::Canary {
            percent: Percent(10.0),
            interval: SpecDuration { seconds: 300 },
        };
        let weights: Vec<Option<f64>> = steps(&canary).iter().map(|s| weight(s.percent)).collect();
        assert_eq!(weights, vec![Some(0.1), None]);
        let linear = Strategy::Linear {
            percent: Percent(25.0),
            interval: SpecDuration { seconds: 60 },
        };
        let weights: Vec<Option<f64>> = steps(&linear).iter().map(|s| weight(s.percent)).collect();
        assert_eq!(weights, vec![Some(0.25), Some(0.5), Some(0.75), None]);
        // Kinds that mean "all at once" for an alias: one move, no hold.
        for kind in [Strategy::AllAtOnce, Strategy::BlueGreen] {
            let s = steps(&kind);
            assert_eq!(s.len(), 1);
            assert_eq!(weight(s[0].percent), None);
            assert!(s[0].hold.is_zero());
        }
        assert_eq!(steps(&crate::deploy::strategy::default_strategy()).len(), 1);
    }

    #[test]
    fn routing_reads_as_shares_and_a_summary() {
        let split = weights(&[("4", 0.1)]);
        let s = shares("3", &split);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].name.as_str(), s[0].percent), ("version 3", 90.0));
        assert_eq!((s[1].name.as_str(), s[1].percent), ("version 4", 10.0));
        assert_eq!(
            summary("live", "3", &split),
            "alias live → version 3 (10% to version 4)"
        );
        assert_eq!(
            summary("live", "3", &weights(&[("4", 0.125)])),
            "alias live → version 3 (12.5% to version 4)"
        );
        let whole = HashMap::new();
        assert_eq!(summary("live", "7", &whole), "alias live → version 7");
        let s = shares("7", &whole);
        assert_eq!((s.len(), s[0].percent), (1, 100.0));
    }
}
