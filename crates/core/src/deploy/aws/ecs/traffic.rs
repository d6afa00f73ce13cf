//! The listener side of a task-set deployment: which of the environment's
//! two target groups takes the traffic now, and the listener's default
//! actions with the forward action's weights moved. Pure; the provider
//! reads and writes the listener.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
};

/// The two sides' names, in `target-groups` order.
pub const SIDES: [&str; 2] = ["blue", "green"];

/// The weights of the listener's forward action, by target group ARN (a
/// forward to one target group without `ForwardConfig` is that group at
/// weight 1).
pub fn weights(actions: &[Action]) -> Result<Vec<(String, i32)>, String> {
    let forward = forward_action(actions)?;
    if let Some(config) = &forward.forward_config {
        let groups: Vec<(String, i32)> = config
            .target_groups()
            .iter()
            .filter_map(|t| {
                t.target_group_arn()
                    .map(|arn| (arn.to_string(), t.weight().unwrap_or(1)))
            })
            .collect();
        if !groups.is_empty() {
            return Ok(groups);
        }
    }
    match forward.target_group_arn() {
        Some(arn) => Ok(vec![(arn.to_string(), 1)]),
        None => Err("the listener's forward action names no target group".into()),
    }
}

fn forward_action(actions: &[Action]) -> Result<&Action, String> {
    actions
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .ok_or_else(|| {
            "the listener's default action does not forward to target groups: \
             a task-set deployment weights its forward action"
                .to_string()
        })
}

/// `group`'s share of the traffic in `weights`, in percent.
pub fn share(weights: &[(String, i32)], group: &str) -> f64 {
    let total: i32 = weights.iter().map(|(_, w)| *w).sum();
    if total <= 0 {
        return 0.0;
    }
    let mine: i32 = weights
        .iter()
        .filter(|(arn, _)| arn == group)
        .map(|(_, w)| *w)
        .sum();
    f64::from(mine) * 100.0 / f64::from(total)
}

/// Which of `groups` (the environment's two) serves now and which is
/// idle: the one with more of the listener's traffic; on a tie the one
/// the primary task set is in, else the first. The listener may forward
/// to nothing but these two.
pub fn live_and_idle(
    weights: &[(String, i32)],
    groups: &[String],
    primary_group: Option<&str>,
) -> Result<(String, String), String> {
    let [a, b] = groups else {
        return Err("`target-groups` names two target groups (blue and green)".into());
    };
    if let Some((other, _)) = weights
        .iter()
        .find(|(arn, w)| *w > 0 && arn != a && arn != b)
    {
        return Err(format!(
            "the listener forwards to target group {other}, which is not one of the environment's `target-groups`"
        ));
    }
    let (wa, wb) = (share(weights, a), share(weights, b));
    let a_lives = if wa != wb {
        wa > wb
    } else {
        primary_group != Some(b.as_str())
    };
    Ok(match a_lives {
        true => (a.clone(), b.clone()),
        false => (b.clone(), a.clone()),
    })
}

/// The weights that give `new` `percent` of the traffic and `old` the
/// rest, in `groups` order.
pub fn split(groups: &[String], old: &str, new: &str, percent: u32) -> Vec<(String, i32)> {
    let p = percent.min(100) as i32;
    groups
        .iter()
        .map(|g| {
            let w = if g == new {
                p
            } else if g == old {
                100 - p
            } else {
                0
            };
            (g.clone(), w)
        })
        .collect()
}

/// `actions` with the forward action weighted by `weights` (its
/// stickiness kept; the single-group form dropped, as ForwardConfig
/// replaces it); every other action as it was.
pub fn reweighted(actions: &[Action], weights: &[(String, i32)]) -> Result<Vec<Action>, String> {
    forward_action(actions)?;
    let mut done = false;
    Ok(actions
        .iter()
        .map(|a| {
            if done || a.r#type() != Some(&ActionTypeEnum::Forward) {
                return a.clone();
            }
            done = true;
            let mut a = a.clone();
            let stickiness = a
                .forward_config
                .as_ref()
                .and_then(|c| c.target_group_stickiness_config().cloned());
            a.target_group_arn = None;
            a.forward_config = Some(
                ForwardActionConfig::builder()
                    .set_target_groups(Some(
                        weights
                            .iter()
                            .map(|(arn, w)| {
                                TargetGroupTuple::builder()
                                    .target_group_arn(arn)
                                    .weight(*w)
                                    .build()
                            })
                            .collect(),
                    ))
                    .set_target_group_stickiness_config(stickiness)
                    .build(),
            );
            a
        })
        .collect())
}

/// `group`'s side name (`blue` or `green`), by its place in `groups`.
pub fn side<'a>(groups: &[String], group: &'a str) -> &'a str {
    match groups.iter().position(|g| g == group) {
        Some(i) if i < SIDES.len() => SIDES[i],
        _ => group,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups() -> Vec<String> {
        vec!["tg/blue".to_string(), "tg/green".to_string()]
    }

    fn single(arn: &str) -> Vec<Action> {
        vec![Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(arn)
            .build()]
    }

    #[test]
    fn a_plain_forward_is_its_group_at_full_weight() {
        let w = weights(&single("tg/blue")).unwrap();
        assert_eq!(w, vec![("tg/blue".to_string(), 1)]);
        assert_eq!(share(&w, "tg/blue"), 100.0);
        assert_eq!(share(&w, "tg/green"), 0.0);
        assert_eq!(
            live_and_idle(&w, &groups(), None).unwrap(),
            ("tg/blue".to_string(), "tg/green".to_string())
        );
    }

    #[test]
    fn each_step_moves_the_weights_and_keeps_other_actions() {
        let mut actions = vec![Action::builder()
            .r#type(ActionTypeEnum::AuthenticateOidc)
            .order(1)
            .build()];
        actions.extend(single("tg/blue"));
        let steps =
            crate::deploy::strategy::traffic_steps(&crate::spec::pipeline::Strategy::Canary {
                percent: crate::spec::pipeline::Percent(10.0),
                interval: crate::spec::pipeline::Duration { seconds: 6 },
            });
        let mut seen = Vec::new();
        for step in steps {
            let w = split(&groups(), "tg/blue", "tg/green", step.percent);
            let next = reweighted(&actions, &w).unwrap();
            assert_eq!(next[0], actions[0], "the other action is kept");
            assert_eq!(next[1].target_group_arn(), None);
            seen.push(weights(&next).unwrap());
        }
        assert_eq!(
            seen,
            vec![
                vec![("tg/blue".to_string(), 90), ("tg/green".to_string(), 10)],
                vec![("tg/blue".to_string(), 0), ("tg/green".to_string(), 100)],
            ]
        );
        assert_eq!(
            live_and_idle(&seen[1], &groups(), Some("tg/blue")).unwrap(),
            ("tg/green".to_string(), "tg/blue".to_string()),
            "the weights say who serves, whatever is primary"
        );
        let even = split(&groups(), "tg/blue", "tg/green", 50);
        assert_eq!(
            live_and_idle(&even, &groups(), Some("tg/green")).unwrap().0,
            "tg/green",
            "a tie goes to the primary task set's group"
        );
    }

    #[test]
    fn a_listener_forwarding_elsewhere_is_refused() {
        let err = live_and_idle(&weights(&single("tg/red")).unwrap(), &groups(), None).unwrap_err();
        assert!(err.contains("tg/red"), "{err}");
        let fixed = vec![Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .build()];
        assert!(weights(&fixed).unwrap_err().contains("does not forward"));
        assert_eq!(side(&groups(), "tg/green"), "green");
    }
}
