//! What CloudFormation's answers mean, as pure functions: which change set
//! type a stack takes, when a stack status is final and whether it
//! succeeded, a change set that changes nothing, the changes in words, and
//! the resource that made an operation fail.

use aws_sdk_cloudformation::types::{Change, StackEvent};

use crate::model::StackChange;

/// The resource type of a stack's own events.
pub const STACK_TYPE: &str = "AWS::CloudFormation::Stack";

/// How a change set may be made on a stack, from its status now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// No stack, or one only reviewed so far (a CREATE change set that
    /// was never executed): the change set creates it.
    Create,
    Update,
    /// CloudFormation would refuse the change set; why, in words.
    Refuse(String),
}

/// The change set type for stack `stack` whose status is `status`
/// (`None`: no such stack).
pub fn kind(stack: &str, status: Option<&str>) -> Kind {
    let Some(status) = status else {
        return Kind::Create;
    };
    match status {
        "REVIEW_IN_PROGRESS" => Kind::Create,
        "CREATE_FAILED" | "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "ROLLBACK_IN_PROGRESS" => {
            Kind::Refuse(format!(
                "stack {stack} is {status}: its creation failed, and CloudFormation updates no \
                 stack in that state; delete it (aws cloudformation delete-stack --stack-name \
                 {stack}) and deploy again"
            ))
        }
        "UPDATE_ROLLBACK_FAILED" => Kind::Refuse(format!(
            "stack {stack} is UPDATE_ROLLBACK_FAILED: finish its rollback first (aws \
             cloudformation continue-update-rollback --stack-name {stack}), then deploy again"
        )),
        "DELETE_FAILED" | "DELETE_IN_PROGRESS" => Kind::Refuse(format!(
            "stack {stack} is {status}: it is being deleted; let the deletion finish, then deploy \
             again"
        )),
        s if s.ends_with("_IN_PROGRESS") => Kind::Refuse(format!(
            "stack {stack} is {status}: another operation is running on it; deploy again once \
             it has ended"
        )),
        _ => Kind::Update,
    }
}

/// Where an operation on a stack stands, from the stack's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Running,
    Succeeded,
    Failed,
}

/// Whether `status` ends an operation, and how. `UPDATE_COMPLETE_CLEANUP_
/// IN_PROGRESS` still runs (as `aws cloudformation deploy` waits it out);
/// an unknown status that is neither complete nor failed counts as running.
pub fn phase(status: &str) -> Phase {
    match status {
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE" => Phase::Succeeded,
        s if s.ends_with("_IN_PROGRESS") => Phase::Running,
        s if s.ends_with("_FAILED") || s.ends_with("_COMPLETE") => Phase::Failed,
        _ => Phase::Running,
    }
}

/// Whether a change set's failure (or a CreateChangeSet error) only says
/// the stack already has this template and these parameters.
pub fn no_changes(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    [
        "didn't contain changes",
        "does not contain changes",
        "no updates are to be performed",
    ]
    .iter()
    .any(|m| r.contains(m))
}

/// A change set's resource changes, as the record keeps them.
pub fn changes(list: &[Change]) -> Vec<StackChange> {
    list.iter()
        .filter_map(Change::resource_change)
        .map(|c| StackChange {
            action: c
                .action()
                .map(|a| a.as_str().to_string())
                .unwrap_or_else(|| "?".into()),
            logical_id: c.logical_resource_id().unwrap_or("?").to_string(),
            resource_type: c.resource_type().unwrap_or("?").to_string(),
            replacement: c.replacement().map(|r| r.as_str().to_string()),
        })
        .collect()
}

/// The most changes spelled out in one event message.
const LISTED: usize = 20;

/// The changes in one line: "2 changes: Modify Release
/// (AWS::SSM::Parameter, replacement False), Add Orders (AWS::SQS::Queue)".
pub fn summary(changes: &[StackChange]) -> String {
    if changes.is_empty() {
        return "no resource changes".into();
    }
    let mut parts: Vec<String> = changes.iter().take(LISTED).map(describe).collect();
    if changes.len() > LISTED {
        parts.push(format!("and {} more", changes.len() - LISTED));
    }
    let n = changes.len();
    format!(
        "{n} change{}: {}",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

/// One change: "Modify Release (AWS::SSM::Parameter, replacement False)".
pub fn describe(c: &StackChange) -> String {
    match &c.replacement {
        Some(r) => format!(
            "{} {} ({}, replacement {r})",
            c.action, c.logical_id, c.resource_type
        ),
        None => format!("{} {} ({})", c.action, c.logical_id, c.resource_type),
    }
}

/// Whether `event` is the stack's own (not one of its resources', nor a
/// nested stack's).
pub fn is_stack_event(event: &StackEvent, stack_id: &str) -> bool {
    event.resource_type() == Some(STACK_TYPE)
        && match event.physical_resource_id() {
            Some(physical) => physical == stack_id,
            None => event.stack_id() == Some(stack_id),
        }
}

/// Why an operation failed, from its events in the order they happened:
/// the first resource that failed and its reason ("Owner
/// (AWS::SSM::Parameter) CREATE_FAILED: … already exists"), else the
/// stack's own failed event. Later failures are mostly consequences
/// ("Resource update cancelled").
pub fn failure(events: &[StackEvent], stack_id: &str) -> Option<String> {
    let failed = |e: &&StackEvent| {
        e.resource_status()
            .is_some_and(|s| s.as_str().ends_with("_FAILED"))
    };
    let first = events
        .iter()
        .filter(failed)
        .find(|e| !is_stack_event(e, stack_id))
        .or_else(|| events.iter().find(failed))?;
    Some(line(first))
}

/// One stack event in words: "Release (AWS::SSM::Parameter)
/// UPDATE_COMPLETE", with its reason when it has one.
pub fn line(e: &StackEvent) -> String {
    let status = e.resource_status().map(|s| s.as_str()).unwrap_or("?");
    let mut out = format!(
        "{} ({}) {status}",
        e.logical_resource_id().unwrap_or("?"),
        e.resource_type().unwrap_or("?")
    );
    if let Some(reason) = e.resource_status_reason().filter(|r| !r.is_empty()) {
        out.push_str(": ");
        out.push_str(reason);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::{
        ChangeAction, ChangeType, Replacement, ResourceChange, ResourceStatus,
    };

    const ID: &str = "arn:aws:cloudformation:eu-west-1:123456789012:stack/orders-infra/1";

    fn event(logical: &str, kind: &str, status: &str, reason: Option<&str>) -> StackEvent {
        let physical = if kind == STACK_TYPE { ID } else { logical };
        StackEvent::builder()
            .stack_id(ID)
            .event_id(format!("{logical}-{status}"))
            .stack_name("orders-infra")
            .logical_resource_id(logical)
            .physical_resource_id(physical)
            .resource_type(kind)
            .resource_status(ResourceStatus::from(status))
            .set_resource_status_reason(reason.map(str::to_string))
            .build()
    }

    #[test]
    fn final_statuses_are_told_apart_from_running_ones() {
        for s in ["CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"] {
            assert_eq!(phase(s), Phase::Succeeded, "{s}");
        }
        for s in [
            "CREATE_FAILED",
            "ROLLBACK_COMPLETE",
            "ROLLBACK_FAILED",
            "UPDATE_FAILED",
            "UPDATE_ROLLBACK_COMPLETE",
            "UPDATE_ROLLBACK_FAILED",
            "DELETE_COMPLETE",
            "IMPORT_ROLLBACK_COMPLETE",
        ] {
            assert_eq!(phase(s), Phase::Failed, "{s}");
        }
        for s in [
            "CREATE_IN_PROGRESS",
            "UPDATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
            "REVIEW_IN_PROGRESS",
            "SOMETHING_NEW",
        ] {
            assert_eq!(phase(s), Phase::Running, "{s}");
        }
    }

    #[test]
    fn a_new_or_reviewed_stack_is_created_a_live_one_updated_a_broken_one_refused() {
        assert_eq!(kind("s", None), Kind::Create);
        assert_eq!(kind("s", Some("REVIEW_IN_PROGRESS")), Kind::Create);
        assert_eq!(kind("s", Some("CREATE_COMPLETE")), Kind::Update);
        assert_eq!(kind("s", Some("UPDATE_ROLLBACK_COMPLETE")), Kind::Update);
        assert_eq!(kind("s", Some("IMPORT_COMPLETE")), Kind::Update);
        let Kind::Refuse(why) = kind("orders", Some("ROLLBACK_COMPLETE")) else {
            panic!("a stack whose creation failed cannot be updated");
        };
        assert!(
            why.contains("delete-stack --stack-name orders"),
            "says what to do: {why}"
        );
        assert!(matches!(
            kind("s", Some("UPDATE_IN_PROGRESS")),
            Kind::Refuse(w) if w.contains("another operation")
        ));
        assert!(matches!(
            kind("s", Some("UPDATE_ROLLBACK_FAILED")),
            Kind::Refuse(w) if w.contains("continue-update-rollback")
        ));
    }

    #[test]
    fn a_change_set_without_changes_is_recognised_by_both_of_awss_wordings() {
        assert!(no_changes(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(no_changes(
            "CreateChangeSet failed: ValidationError: No updates are to be performed."
        ));
        assert!(!no_changes(
            "Template format error: Unresolved resource dependencies [Queue] in the Resources block of the template"
        ));
        assert!(!no_changes("Parameters: [Version] must have values"));
    }

    #[test]
    fn changes_keep_action_logical_id_type_and_replacement() {
        let list = vec![
            Change::builder()
                .r#type(ChangeType::Resource)
                .resource_change(
                    ResourceChange::builder()
                        .action(ChangeAction::Modify)
                        .logical_resource_id("Release")
                        .resource_type("AWS::SSM::Parameter")
                        .replacement(Replacement::False)
                        .build(),
                )
                .build(),
            Change::builder()
                .r#type(ChangeType::Resource)
                .resource_change(
                    ResourceChange::builder()
                        .action(ChangeAction::Add)
                        .logical_resource_id("Orders")
                        .resource_type("AWS::SQS::Queue")
                        .build(),
                )
                .build(),
            // A hook's change names no resource: not a resource change.
            Change::builder().r#type(ChangeType::from("Hook")).build(),
        ];
        let parsed = changes(&list);
        assert_eq!(
            parsed,
            vec![
                StackChange {
                    action: "Modify".into(),
                    logical_id: "Release".into(),
                    resource_type: "AWS::SSM::Parameter".into(),
                    replacement: Some("False".into()),
                },
                StackChange {
                    action: "Add".into(),
                    logical_id: "Orders".into(),
                    resource_type: "AWS::SQS::Queue".into(),
                    replacement: None,
                },
            ]
        );
        assert_eq!(
            summary(&parsed),
            "2 changes: Modify Release (AWS::SSM::Parameter, replacement False), Add Orders (AWS::SQS::Queue)"
        );
        assert_eq!(summary(&[]), "no resource changes");
    }

    #[test]
    fn the_failure_is_the_first_resource_that_failed_not_what_followed() {
        let events = vec![
            event(
                "orders-infra",
                STACK_TYPE,
                "UPDATE_IN_PROGRESS",
                Some("User Initiated"),
            ),
            event("Release", "AWS::SSM::Parameter", "UPDATE_COMPLETE", None),
            event(
                "Owner",
                "AWS::SSM::Parameter",
                "CREATE_FAILED",
                Some("Parameter /orders/prod/owner already exists."),
            ),
            event(
                "Orders",
                "AWS::SQS::Queue",
                "CREATE_FAILED",
                Some("Resource creation cancelled"),
            ),
            event(
                "orders-infra",
                STACK_TYPE,
                "UPDATE_ROLLBACK_IN_PROGRESS",
                Some("The following resource(s) failed to create: [Owner, Orders]."),
            ),
            event("orders-infra", STACK_TYPE, "UPDATE_ROLLBACK_COMPLETE", None),
        ];
        assert_eq!(
            failure(&events, ID).as_deref(),
            Some("Owner (AWS::SSM::Parameter) CREATE_FAILED: Parameter /orders/prod/owner already exists.")
        );
        // Only the stack itself failed (a nested stack's own error, say).
        let events = vec![event(
            "orders-infra",
            STACK_TYPE,
            "UPDATE_FAILED",
            Some("Stack policy denies the update"),
        )];
        assert_eq!(
            failure(&events, ID).as_deref(),
            Some("orders-infra (AWS::CloudFormation::Stack) UPDATE_FAILED: Stack policy denies the update")
        );
        let fine = vec![event("orders-infra", STACK_TYPE, "UPDATE_COMPLETE", None)];
        assert_eq!(failure(&fine, ID), None);
    }

    #[test]
    fn only_the_stacks_own_events_are_its_own() {
        assert!(is_stack_event(
            &event("orders-infra", STACK_TYPE, "UPDATE_COMPLETE", None),
            ID
        ));
        assert!(!is_stack_event(
            &event("Release", "AWS::SSM::Parameter", "UPDATE_COMPLETE", None),
            ID
        ));
        // A nested stack: a Stack resource with its own physical id.
        let nested = StackEvent::builder()
            .stack_id(ID)
            .logical_resource_id("Network")
            .physical_resource_id("arn:aws:cloudformation:eu-west-1:123456789012:stack/net/2")
            .resource_type(STACK_TYPE)
            .resource_status(ResourceStatus::UpdateComplete)
            .build();
        assert!(!is_stack_event(&nested, ID));
    }
}
