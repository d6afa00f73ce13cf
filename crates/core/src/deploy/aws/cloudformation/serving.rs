//! What a stack serves now, as its account says (DescribeStacks): its
//! status, when it last changed, its outputs and its parameters.

use aws_sdk_cloudformation::types::Stack;

use crate::clock::{self, Millis};
use crate::model::{Fact, Serving};

/// The stack as the Environments page shows it.
pub fn of(name: &str, stack: &Stack, read_at: Millis) -> Serving {
    let status = stack
        .stack_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "unknown".into());
    let fact = |label: &str, value: String| Fact {
        label: label.into(),
        value,
    };
    let mut facts = vec![fact(
        "status",
        match stack.stack_status_reason().filter(|r| !r.is_empty()) {
            Some(reason) => format!("{status} ({reason})"),
            None => status.clone(),
        },
    )];
    if let Some(at) = stack
        .last_updated_time()
        .or(stack.creation_time())
        .and_then(|t| t.to_millis().ok())
    {
        facts.push(fact("last updated", clock::rfc3339(at)));
    }
    for o in stack.outputs() {
        facts.push(fact(
            "output",
            format!(
                "{}={}",
                o.output_key().unwrap_or("?"),
                o.output_value().unwrap_or_default()
            ),
        ));
    }
    // CloudFormation masks `NoEcho` parameters here itself.
    for p in stack.parameters() {
        facts.push(fact(
            "parameter",
            format!(
                "{}={}",
                p.parameter_key().unwrap_or("?"),
                p.parameter_value().unwrap_or_default()
            ),
        ));
    }
    Serving {
        summary: format!("{name} {status}"),
        facts,
        traffic: Vec::new(),
        read_at,
        error: None,
    }
}

/// A stack that could not be read: the call and AWS's message.
pub fn unreadable(name: &str, error: String, read_at: Millis) -> Serving {
    Serving {
        summary: format!("{name} unknown"),
        facts: Vec::new(),
        traffic: Vec::new(),
        read_at,
        error: Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::{Output, Parameter, StackStatus};
    use aws_smithy_types::DateTime;

    #[test]
    fn a_stack_shows_its_status_last_change_outputs_and_parameters() {
        let stack = Stack::builder()
            .stack_name("orders-infra")
            .stack_status(StackStatus::UpdateComplete)
            .creation_time(DateTime::from_millis(1_700_000_000_000))
            .last_updated_time(DateTime::from_millis(1_700_000_360_000))
            .outputs(
                Output::builder()
                    .output_key("QueueUrl")
                    .output_value("https://sqs.eu-west-1.amazonaws.com/1/orders")
                    .build(),
            )
            .parameters(
                Parameter::builder()
                    .parameter_key("Version")
                    .parameter_value("v2")
                    .build(),
            )
            .parameters(
                Parameter::builder()
                    .parameter_key("DbPassword")
                    .parameter_value("****")
                    .build(),
            )
            .build();
        let s = of("orders-infra", &stack, 5);
        assert_eq!(s.summary, "orders-infra UPDATE_COMPLETE");
        assert_eq!(s.error, None);
        assert_eq!(s.read_at, 5);
        let facts: Vec<(&str, &str)> = s
            .facts
            .iter()
            .map(|f| (f.label.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(
            facts,
            [
                ("status", "UPDATE_COMPLETE"),
                ("last updated", "2023-11-14T22:19:20.000Z"),
                (
                    "output",
                    "QueueUrl=https://sqs.eu-west-1.amazonaws.com/1/orders"
                ),
                ("parameter", "Version=v2"),
                ("parameter", "DbPassword=****"),
            ]
        );
    }

    #[test]
    fn a_failed_stack_says_why_in_its_status() {
        let stack = Stack::builder()
            .stack_status(StackStatus::UpdateRollbackComplete)
            .stack_status_reason("The following resource(s) failed to create: [Owner].")
            .build();
        let s = of("orders-infra", &stack, 0);
        assert_eq!(s.summary, "orders-infra UPDATE_ROLLBACK_COMPLETE");
        assert_eq!(
            s.facts[0].value,
            "UPDATE_ROLLBACK_COMPLETE (The following resource(s) failed to create: [Owner].)"
        );
    }
}
