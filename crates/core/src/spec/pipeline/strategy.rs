//! Deployment strategies: Slipway's names, the mapping form, and
//! CodeDeploy's predefined configuration names, all read into one
//! [`Strategy`] so the deployer never sees spellings.

use serde::{Deserialize, Serialize};

use super::units::{Duration, Percent};
use crate::spec::read::{describe, suggest, KeyPath, Reader};
use crate::spec::yaml::{Node, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Strategy {
    /// Every instance at once, in place.
    AllAtOnce,
    /// In place, in batches that keep `minimum_healthy` serving.
    Rolling { minimum_healthy: MinimumHealthy },
    /// A new set beside the old; all traffic moves once it is healthy.
    BlueGreen,
    /// A new set; `percent` of traffic, then the rest after `interval`.
    Canary {
        percent: Percent,
        interval: Duration,
    },
    /// A new set; `percent` more traffic every `interval`.
    Linear {
        percent: Percent,
        interval: Duration,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum MinimumHealthy {
    /// A share of the fleet, rounded up to a host count when the deployment
    /// starts (as CodeDeploy does).
    Percent(Percent),
    Count(u32),
    /// All instances but one (CodeDeploy's OneAtATime).
    AllButOne,
}

/// Slipway's strategy names.
pub const NAMES: [&str; 7] = [
    "all-at-once",
    "half-at-a-time",
    "one-at-a-time",
    "rolling",
    "blue-green",
    "canary",
    "linear",
];

/// CodeDeploy's predefined deployment configurations, without the
/// `CodeDeployDefault.` prefix. Only these exist in AWS; a made-up member
/// of the family (`LambdaCanary10Percent7Minutes`) is refused.
pub const CODEDEPLOY_NAMES: [&str; 17] = [
    "AllAtOnce",
    "HalfAtATime",
    "OneAtATime",
    "ECSAllAtOnce",
    "ECSLinear10PercentEvery1Minutes",
    "ECSLinear10PercentEvery3Minutes",
    "ECSCanary10Percent5Minutes",
    "ECSCanary10Percent15Minutes",
    "LambdaAllAtOnce",
    "LambdaCanary10Percent5Minutes",
    "LambdaCanary10Percent10Minutes",
    "LambdaCanary10Percent15Minutes",
    "LambdaCanary10Percent30Minutes",
    "LambdaLinear10PercentEvery1Minute",
    "LambdaLinear10PercentEvery2Minutes",
    "LambdaLinear10PercentEvery3Minutes",
    "LambdaLinear10PercentEvery10Minutes",
];

const PREFIX: &str = "CodeDeployDefault.";

impl Strategy {
    /// A strategy written as a bare name (Slipway's or CodeDeploy's).
    pub fn from_name(name: &str) -> Result<Strategy, String> {
        let default_interval = Duration { seconds: 300 };
        let s = match name {
            "all-at-once" => Strategy::AllAtOnce,
            "half-at-a-time" => half(),
            "one-at-a-time" => Strategy::Rolling {
                minimum_healthy: MinimumHealthy::AllButOne,
            },
            "rolling" => Strategy::Rolling {
                minimum_healthy: MinimumHealthy::Percent(Percent(75.0)),
            },
            "blue-green" => Strategy::BlueGreen,
            "canary" => Strategy::Canary {
                percent: Percent(10.0),
                interval: default_interval,
            },
            "linear" => Strategy::Linear {
                percent: Percent(10.0),
                interval: Duration { seconds: 60 },
            },
            _ => return from_codedeploy(name),
        };
        Ok(s)
    }
}

fn half() -> Strategy {
    Strategy::Rolling {
        minimum_healthy: MinimumHealthy::Percent(Percent(50.0)),
    }
}

fn from_codedeploy(name: &str) -> Result<Strategy, String> {
    let Some(short) = name
        .strip_prefix(PREFIX)
        .filter(|s| CODEDEPLOY_NAMES.contains(s))
    else {
        let mut known: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
        known.extend(CODEDEPLOY_NAMES.iter().map(|s| format!("{PREFIX}{s}")));
        let refs: Vec<&str> = known.iter().map(String::as_str).collect();
        return Err(match suggest(name, &refs) {
            Some(s) => format!("unknown strategy `{name}`; did you mean `{s}`?"),
            None => format!(
                "unknown strategy `{name}`; expected one of {} or a CodeDeployDefault.* name",
                NAMES.join(", ")
            ),
        });
    };
    // The family's names spell their numbers: Canary<p>Percent<m>Minutes,
    // Linear<p>PercentEvery<m>Minute(s).
    let numbers: Vec<u64> = short
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    let shifted = |p: u64, m: u64| (Percent(p as f64), Duration { seconds: m * 60 });
    Ok(match short {
        "AllAtOnce" => Strategy::AllAtOnce,
        "HalfAtATime" => half(),
        "OneAtATime" => Strategy::Rolling {
            minimum_healthy: MinimumHealthy::AllButOne,
        },
        // ECS and Lambda "all at once" shift every request to the new set.
        "ECSAllAtOnce" | "LambdaAllAtOnce" => Strategy::BlueGreen,
        s if s.contains("Canary") => {
            let (percent, interval) = shifted(numbers[0], numbers[1]);
            Strategy::Canary { percent, interval }
        }
        _ => {
            let (percent, interval) = shifted(numbers[0], numbers[1]);
            Strategy::Linear { percent, interval }
        }
    })
}

/// Reads a strategy written as a name or as a mapping.
pub(super) fn read(r: &mut Reader, node: &Node, path: &KeyPath) -> Option<Strategy> {
    if let Value::Scalar(_) = node.value {
        let name = r.string(node, path, "a strategy")?;
        return match Strategy::from_name(&name) {
            Ok(s) => Some(s),
            Err(m) => {
                r.error(node, path, m);
                None
            }
        };
    }
    let mut f = r.mapping(node, path, "a strategy (a name or a mapping with `type`)")?;
    let Some(t) = f.get("type") else {
        r.error(node, path, "missing `type` in the strategy mapping");
        return None;
    };
    let kind = r.choice(t, &path.key("type"), &NAMES, "strategy type")?;
    let mut strategy = Strategy::from_name(&kind).ok()?;
    let (percent_ok, min_ok) = match strategy {
        Strategy::Canary { .. } | Strategy::Linear { .. } => (true, false),
        Strategy::Rolling { .. } => (false, kind == "rolling"),
        _ => (false, false),
    };
    let mut known = vec!["type"];
    if percent_ok {
        known.extend(["percent", "interval"]);
        let percent = f
            .get("percent")
            .and_then(|n| percent(r, n, &path.key("percent"), true));
        let interval = f
            .get("interval")
            .and_then(|n| duration(r, n, &path.key("interval")));
        if let Strategy::Canary {
            percent: p,
            interval: i,
        }
        | Strategy::Linear {
            percent: p,
            interval: i,
        } = &mut strategy
        {
            *p = percent.unwrap_or(*p);
            *i = interval.unwrap_or(*i);
        }
    }
    if min_ok {
        known.push("minimum-healthy");
        if let Some(n) = f.get("minimum-healthy") {
            if let Some(m) = minimum_healthy(r, n, &path.key("minimum-healthy")) {
                strategy = Strategy::Rolling { minimum_healthy: m };
            }
        }
    }
    r.unknown_keys(&mut f, &known, &format!("a `{kind}` strategy"));
    Some(strategy)
}

fn minimum_healthy(r: &mut Reader, node: &Node, path: &KeyPath) -> Option<MinimumHealthy> {
    let text = r.string(node, path, "a minimum healthy count or percentage")?;
    if text.trim() == "N-1" {
        return Some(MinimumHealthy::AllButOne);
    }
    if text.trim().ends_with('%') {
        return percent(r, node, path, false).map(MinimumHealthy::Percent);
    }
    match text.trim().parse::<u32>() {
        Ok(n) => Some(MinimumHealthy::Count(n)),
        Err(_) => {
            r.error(
                node,
                path,
                format!(
                    "minimum-healthy {} is neither a host count (2), a percentage (75%) nor N-1",
                    describe(node)
                ),
            );
            None
        }
    }
}

pub(super) fn duration(r: &mut Reader, node: &Node, path: &KeyPath) -> Option<Duration> {
    let text = r.string(node, path, "a duration like 30s or 5m")?;
    Duration::parse(&text)
        .map_err(|m| r.error(node, path, m))
        .ok()
}

pub(super) fn percent(
    r: &mut Reader,
    node: &Node,
    path: &KeyPath,
    bare_ok: bool,
) -> Option<Percent> {
    let text = r.string(node, path, "a percentage like 5%")?;
    Percent::parse(&text, bare_ok)
        .map_err(|m| r.error(node, path, m))
        .ok()
}
