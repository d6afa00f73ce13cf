//! What a strategy means as steps: the batches of an in-place deployment
//! and the traffic weights of one that starts a new set. Pure arithmetic;
//! the deployer walks the steps.

use std::time::Duration;

use crate::spec::pipeline::{MinimumHealthy, Strategy};

/// CodeDeploy's default configuration (OneAtATime).
pub fn default_strategy() -> Strategy {
    Strategy::Rolling {
        minimum_healthy: MinimumHealthy::AllButOne,
    }
}

/// Whether the strategy replaces instances in place (rolling, all at once)
/// rather than starting a new set beside the old one.
pub fn in_place(strategy: &Strategy) -> bool {
    matches!(strategy, Strategy::AllAtOnce | Strategy::Rolling { .. })
}

/// The minimum healthy host count for `n` instances: a percentage becomes
/// a count at the start, rounded up, as CodeDeploy does.
pub fn minimum_healthy(n: usize, minimum: &MinimumHealthy) -> usize {
    let m = match minimum {
        MinimumHealthy::Percent(p) => ((n as f64) * p.0 / 100.0).ceil() as usize,
        MinimumHealthy::Count(c) => *c as usize,
        MinimumHealthy::AllButOne => n.saturating_sub(1),
    };
    m.min(n)
}

/// The instance indexes to update together, in order. Rolling keeps
/// `minimum_healthy` serving (batches of `n - minimum`, at least one
/// instance: a minimum of the whole fleet would never progress, and
/// CodeDeploy then goes one at a time); all-at-once is one batch.
pub fn batches(n: usize, strategy: &Strategy) -> Vec<Vec<usize>> {
    let size = match strategy {
        Strategy::Rolling { minimum_healthy: m } => (n - minimum_healthy(n, m)).max(1),
        _ => n.max(1),
    };
    (0..n)
        .collect::<Vec<_>>()
        .chunks(size)
        .map(<[usize]>::to_vec)
        .collect()
}

/// One traffic step: the new set's share in percent (of 100), then how
/// long to watch before the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficStep {
    pub percent: u32,
    pub hold: Duration,
}

/// The traffic steps of a strategy that starts a new set: blue/green moves
/// everything at once; canary moves `percent`, holds `interval`, then the
/// rest; linear adds `percent` every `interval`.
pub fn traffic_steps(strategy: &Strategy) -> Vec<TrafficStep> {
    let all = TrafficStep {
        percent: 100,
        hold: Duration::ZERO,
    };
    match strategy {
        Strategy::Canary { percent, interval } => {
            let p = percent.0.round().clamp(0.0, 100.0) as u32;
            if p == 0 || p >= 100 {
                return vec![all];
            }
            vec![
                TrafficStep {
                    percent: p,
                    hold: interval.as_std(),
                },
                all,
            ]
        }
        Strategy::Linear { percent, interval } => {
            let p = percent.0.round().clamp(0.0, 100.0) as u32;
            if p == 0 || p >= 100 {
                return vec![all];
            }
            let mut steps: Vec<TrafficStep> = (1..)
                .map(|k| k * p)
                .take_while(|&share| share < 100)
                .map(|share| TrafficStep {
                    percent: share,
                    hold: interval.as_std(),
                })
                .collect();
            steps.push(all);
            steps
        }
        _ => vec![all],
    }
}

/// The strategy in a few words, for records and lists.
pub fn describe(strategy: &Strategy) -> String {
    match strategy {
        Strategy::AllAtOnce => "all-at-once".into(),
        Strategy::Rolling { minimum_healthy } => match minimum_healthy {
            MinimumHealthy::AllButOne => "one-at-a-time".into(),
            MinimumHealthy::Percent(p) if p.0 == 50.0 => "half-at-a-time".into(),
            MinimumHealthy::Percent(p) => format!("rolling (minimum healthy {}%)", p.0),
            MinimumHealthy::Count(c) => format!("rolling (minimum healthy {c})"),
        },
        Strategy::BlueGreen => "blue-green".into(),
        Strategy::Canary { percent, interval } => {
            format!("canary {}% for {}s", percent.0, interval.seconds)
        }
        Strategy::Linear { percent, interval } => {
            format!("linear {}% every {}s", percent.0, interval.seconds)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::pipeline::{Duration as SpecDuration, Percent};

    #[test]
    fn rolling_batches_keep_the_minimum_healthy() {
        let one = default_strategy();
        assert_eq!(batches(3, &one), vec![vec![0], vec![1], vec![2]]);
        let half = Strategy::from_name("half-at-a-time").unwrap();
        assert_eq!(batches(4, &half), vec![vec![0, 1], vec![2, 3]]);
        // 75% of 3 rounds up to 3 healthy: one at a time, never none.
        let rolling = Strategy::from_name("rolling").unwrap();
        assert_eq!(batches(3, &rolling).len(), 3);
        assert_eq!(batches(3, &Strategy::AllAtOnce), vec![vec![0, 1, 2]]);
        let count = Strategy::Rolling {
            minimum_healthy: MinimumHealthy::Count(1),
        };
        assert_eq!(batches(3, &count), vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn canary_and_linear_move_traffic_in_steps() {
        let canary = Strategy::Canary {
            percent: Percent(10.0),
            interval: SpecDuration { seconds: 5 },
        };
        let steps = traffic_steps(&canary);
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].percent, 10);
        assert_eq!(steps[0].hold, Duration::from_secs(5));
        assert_eq!(steps[1].percent, 100);
        let linear =
            Strategy::from_name("CodeDeployDefault.ECSLinear10PercentEvery1Minutes").unwrap();
        let shares: Vec<u32> = traffic_steps(&linear).iter().map(|s| s.percent).collect();
        assert_eq!(shares, vec![10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
        assert_eq!(traffic_steps(&Strategy::BlueGreen).len(), 1);
    }
}
