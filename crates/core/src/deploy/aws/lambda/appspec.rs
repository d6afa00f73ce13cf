//! A CodeDeploy Lambda appspec in the revision (`appspec.yml`, `.yaml` or
//! `.json` at the artifact's root, with an `AWS::Lambda::Function`
//! resource): its `TargetVersion` is the version the alias shifts to (no
//! code is uploaded, as with CodeDeploy, where the version was published
//! before), its `CurrentVersion` must be what the alias serves, and its
//! `Hooks` name functions invoked before and after the shift.
//!
//! A hook function passes unless its invocation fails, it raises (Lambda's
//! `FunctionError`), or it answers `{"status": "Failed"}` (what a CodeDeploy
//! hook would report with PutLifecycleEventHookExecutionStatus, for which
//! Slipway has no endpoint).

use std::path::Path;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use crate::deploy::appspec_run::APPSPEC_NAMES;
use crate::deploy::aws;
use crate::deploy::monitor::Failure;
use crate::deploy::provider::Job;
use crate::spec::appspec::{self, Appspec, LambdaFunction, TrafficHook};

/// What a Lambda appspec asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaAppspec {
    pub file: String,
    pub function: LambdaFunction,
    pub hooks: Vec<TrafficHook>,
}

impl LambdaAppspec {
    /// The hook functions of `event` (BeforeAllowTraffic, AfterAllowTraffic).
    pub fn hooks_of(&self, event: &str) -> Vec<&str> {
        self.hooks
            .iter()
            .filter(|h| h.event == event)
            .map(|h| h.function.as_str())
            .collect()
    }
}

/// The revision's Lambda appspec, if it has one. An EC2/ECS appspec is
/// not this provider's and is left alone (it is just a file of the
/// package); an invalid one fails the deployment with its errors.
pub fn read(files: &Path) -> Result<Option<LambdaAppspec>, String> {
    let Some(name) = APPSPEC_NAMES.iter().find(|n| files.join(n).is_file()) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(files.join(name))
        .map_err(|e| format!("cannot read {name} in the artifact: {e}"))?;
    match appspec::parse(&text, name) {
        Ok(Appspec::Lambda { function, hooks }) => Ok(Some(LambdaAppspec {
            file: name.to_string(),
            function,
            hooks,
        })),
        Ok(_) => Ok(None),
        Err(errors) => Err(format!(
            "{name} is not a valid appspec:\n{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )),
    }
}

/// Checks the appspec names the environment's function and alias: a
/// revision meant for another function must not move this one's traffic.
pub fn check(spec: &LambdaAppspec, function: &str, alias: &str) -> Result<(), String> {
    let f = &spec.function;
    let last = |name: &str| name.rsplit(':').next().unwrap_or(name).to_string();
    if f.name != function && last(&f.name) != last(function) {
        return Err(format!(
            "{} names function `{}`, but this environment deploys `{function}`",
            spec.file, f.name
        ));
    }
    if f.alias != alias {
        return Err(format!(
            "{} shifts alias `{}`, but this environment's alias is `{alias}`",
            spec.file, f.alias
        ));
    }
    Ok(())
}

/// Invokes each hook function of `event` in turn, recording each as a
/// lifecycle event; the first that fails fails the deployment.
pub async fn run_hooks(
    job: &Job<'_>,
    client: &aws_sdk_lambda::Client,
    spec: &LambdaAppspec,
    event: &str,
    target: &str,
    current: Option<&str>,
) -> Result<(), Failure> {
    for function in spec.hooks_of(event) {
        let started = job.now();
        let payload = serde_json::json!({
            "DeploymentId": job.record.id,
            "LifecycleEventHookExecutionId": format!("{}-{event}", job.record.id),
            "LifecycleEvent": event,
            "FunctionName": spec.function.name,
            "Alias": spec.function.alias,
            "TargetVersion": target,
            "CurrentVersion": current,
        });
        let result = aws::call(
            "Invoke",
            client
                .invoke()
                .function_name(function)
                .invocation_type(InvocationType::RequestResponse)
                .payload(Blob::new(payload.to_string()))
                .send(),
        )
        .await
        .and_then(|out| {
            outcome(
                out.status_code(),
                out.function_error(),
                out.payload().map(|p| p.as_ref()),
            )
        })
        .map_err(|e| format!("hook function `{function}`: {e}"));
        job.event(function, event, started, &result);
        result.map_err(Failure::of)?;
        job.check_stop()?;
    }
    Ok(())
}

/// Whether an invocation's answer is a pass: a 2xx status, no function
/// error, and no `"status": "Failed"` in a JSON answer.
pub fn outcome(
    status: i32,
    function_error: Option<&str>,
    payload: Option<&[u8]>,
) -> Result<(), String> {
    let body: Option<serde_json::Value> = payload.and_then(|p| serde_json::from_slice(p).ok());
    if let Some(kind) = function_error {
        let message = body
            .as_ref()
            .and_then(|b| b.get("errorMessage"))
            .and_then(|m| m.as_str())
            .map(|m| format!(": {}", clip(m)))
            .unwrap_or_default();
        return Err(format!("the function raised an error ({kind}){message}"));
    }
    if !(200..300).contains(&status) {
        return Err(format!("Invoke answered HTTP {status}"));
    }
    let status = body
        .as_ref()
        .and_then(|b| b.get("status").or_else(|| b.get("Status")))
        .and_then(|s| s.as_str());
    if status.is_some_and(|s| s.eq_ignore_ascii_case("failed")) {
        let reason = body
            .as_ref()
            .and_then(|b| b.get("reason").or_else(|| b.get("message")))
            .and_then(|m| m.as_str())
            .map(|m| format!(": {}", clip(m)))
            .unwrap_or_default();
        return Err(format!("the function reported status Failed{reason}"));
    }
    Ok(())
}

/// A function's words, kept short for the deployment's error.
fn clip(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPSPEC: &str = "version: 0.0\nResources:\n  - orders:\n      Type: AWS::Lambda::Function\n      Properties:\n        Name: orders-api\n        Alias: live\n        CurrentVersion: 1\n        TargetVersion: 2\nHooks:\n  - BeforeAllowTraffic: orders-smoke\n  - AfterAllowTraffic: orders-check\n";

    #[test]
    fn a_lambda_appspec_names_the_versions_and_hook_functions() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        std::fs::write(dir.path().join("appspec.yml"), APPSPEC).unwrap();
        let spec = read(dir.path()).unwrap().unwrap();
        assert_eq!(spec.function.target_version, "2");
        assert_eq!(spec.function.current_version.as_deref(), Some("1"));
        assert_eq!(spec.hooks_of("BeforeAllowTraffic"), vec!["orders-smoke"]);
        assert_eq!(spec.hooks_of("AfterAllowTraffic"), vec!["orders-check"]);
        check(&spec, "orders-api", "live").unwrap();
        check(
            &spec,
            "arn:aws:lambda:eu-west-1:123456789012:function:orders-api",
            "live",
        )
        .unwrap();
        let e = check(&spec, "payments", "live").unwrap_err();
        assert!(e.contains("names function `orders-api`"), "{e}");
        let e = check(&spec, "orders-api", "prod").unwrap_err();
        assert!(e.contains("alias `live`"), "{e}");
    }

    #[test]
    fn a_server_appspec_is_not_ours_and_an_invalid_one_fails() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("appspec.yml"),
            "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /srv\n",
        )
        .unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        std::fs::write(
            dir.path().join("appspec.yml"),
            "Resources:\n  - f:\n      Type: AWS::Lambda::Function\n      Properties:\n        Name: x\n",
        )
        .unwrap();
        let e = read(dir.path()).unwrap_err();
        assert!(e.contains("appspec.yml is not a valid appspec"), "{e}");
    }

    #[test]
    fn a_hook_fails_when_it_raises_reports_failed_or_the_call_fails() {
        assert!(outcome(200, None, Some(b"\"ok\"")).is_ok());
        assert!(outcome(200, None, Some(b"{\"status\":\"Succeeded\"}")).is_ok());
        assert!(outcome(200, None, None).is_ok());
        let e = outcome(
            200,
            Some("Unhandled"),
            Some(br#"{"errorMessage":"smoke test: 500 from /orders","errorType":"Exception"}"#),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "the function raised an error (Unhandled): smoke test: 500 from /orders"
        );
        let e = outcome(
            200,
            None,
            Some(br#"{"status":"Failed","reason":"p99 too high"}"#),
        )
        .unwrap_err();
        assert_eq!(e, "the function reported status Failed: p99 too high");
        assert!(outcome(500, None, None).unwrap_err().contains("HTTP 500"));
    }
}
