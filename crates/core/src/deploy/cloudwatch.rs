//! `cloudwatch:` alarms: the state of named CloudWatch alarms, read for the
//! deploy monitor with one DescribeAlarms call (AlarmNames, every name of
//! the environment at once) each time it evaluates alarms. The call is
//! signed with the environment's `account` session, as
//! [`creds::account_session`] hands it out (the one credential path; the
//! session is kept for the watch and renewed when the cache would renew
//! it), in the environment's region, else its profile's. The endpoint is
//! `AWS_ENDPOINT_URL_CLOUDWATCH`, else `AWS_ENDPOINT_URL`, else AWS's
//! ([`creds::endpoint_from_env`]).
//!
//! State `ALARM` is in alarm; `OK` and `INSUFFICIENT_DATA` are not. A name
//! CloudWatch does not know, and a read that fails after the SDK's retries
//! (denied, throttled, unreachable, timed out), count as in alarm: as in
//! CodeDeploy, whose deployments stop when alarm state cannot be read
//! unless told to ignore it, a deployment is never let through on alarms
//! nobody could read.
//!
//! This module must never put a credential in a message or a log: errors
//! carry the API's error code and message, and the SDK's own tracing (which
//! prints access key ids and signatures at debug level) is silenced while a
//! request runs.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudwatch::config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::types::{AlarmType, StateValue};
use aws_sdk_cloudwatch::Client;
use tracing::instrument::WithSubscriber;
use tracing::subscriber::NoSubscriber;

use super::aws::{api_error, Aws};
use crate::clock::Clock;
use crate::creds::{self, Account, AccountSession};
use crate::store::Store;

/// The most one DescribeAlarms call may take, retries included.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longer state reasons are cut to this many characters in a message.
const REASON_MAX: usize = 300;

/// What one read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// Every alarm is `OK` or `INSUFFICIENT_DATA`.
    Quiet,
    /// The first alarm (in the file's order) in state `ALARM`, or named but
    /// missing, or why the states could not be read: in words.
    InAlarm(String),
}

/// An environment's `cloudwatch:` alarms and how to read them.
pub struct CloudWatchAlarms {
    names: Vec<String>,
    account: Account,
    store: Option<Arc<Store>>,
    clock: Arc<dyn Clock>,
    client: Option<(AccountSession, Client)>,
}

impl CloudWatchAlarms {
    /// `names` in the file's order (repeats are read once). Without a
    /// `store` (an environment being restored, which watches no alarm) a
    /// read reports that no session can be had.
    pub fn new(
        names: Vec<String>,
        account: Account,
        store: Option<Arc<Store>>,
        clock: Arc<dyn Clock>,
    ) -> CloudWatchAlarms {
        let mut unique: Vec<String> = Vec::with_capacity(names.len());
        for n in names {
            if !unique.contains(&n) {
                unique.push(n);
            }
        }
        CloudWatchAlarms {
            names: unique,
            account,
            store,
            clock,
            client: None,
        }
    }

    /// Reads every alarm's state in one DescribeAlarms call.
    pub async fn read(&mut self) -> Reading {
        if self.names.is_empty() {
            return Reading::Quiet;
        }
        if let Err(why) = self.renew().await {
            return Reading::InAlarm(format!("cannot read CloudWatch alarms: {why}"));
        }
        let (session, client) = self.client.as_ref().expect("renewed above");
        let place = format!("profile `{}`, {}", session.profile, session.region);
        let states = match describe(client, &self.names).await {
            Ok(states) => states,
            Err(why) => {
                return Reading::InAlarm(format!(
                    "cannot read CloudWatch alarms ({place}): DescribeAlarms failed: {why}"
                ))
            }
        };
        verdict(&self.names, &states, &place)
    }

    /// Makes the client for the account's session, again once the session
    /// is near its end.
    async fn renew(&mut self) -> Result<(), String> {
        if matches!(&self.client, Some((s, _)) if s.usable_at(self.clock.now())) {
            return Ok(());
        }
        let store = self
            .store
            .as_ref()
            .ok_or("no credential store is open for this deployment")?;
        let session = creds::account_session(store, self.clock.as_ref(), &self.account)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the environment names no `account`")?;
        let client = client(&session);
        self.client = Some((session, client));
        Ok(())
    }
}

fn client(session: &AccountSession) -> Client {
    let aws = Aws {
        session: session.clone(),
    };
    let config = aws_sdk_cloudwatch::config::Builder::from(&aws.config("CLOUDWATCH"))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(CALL_TIMEOUT)
                .build(),
        );
    Client::from_conf(config.build())
}

struct State {
    name: String,
    state: StateValue,
    reason: String,
}

impl State {
    /// From what a metric or a composite alarm says (the SDK's two types
    /// share these three fields); no state reads as INSUFFICIENT_DATA.
    fn of(name: Option<&str>, state: Option<&StateValue>, reason: Option<&str>) -> State {
        State {
            name: name.unwrap_or_default().to_string(),
            state: state.cloned().unwrap_or(StateValue::InsufficientData),
            reason: reason.unwrap_or_default().to_string(),
        }
    }
}

/// What the states read say of `names`, the first in the file's order
/// deciding: a missing alarm or one in `ALARM` is in alarm.
fn verdict(names: &[String], states: &[State], place: &str) -> Reading {
    for name in names {
        match states.iter().find(|s| &s.name == name) {
            None => {
                return Reading::InAlarm(format!(
                    "CloudWatch alarm `{name}` does not exist ({place})"
                ))
            }
            Some(s) if s.state == StateValue::Alarm => {
                let reason = match s.reason.chars().count() > REASON_MAX {
                    true => format!("{}…", s.reason.chars().take(REASON_MAX).collect::<String>()),
                    false => s.reason.clone(),
                };
                return Reading::InAlarm(format!(
                    "CloudWatch alarm `{name}` is in ALARM: {reason}"
                ));
            }
            Some(_) => {}
        }
    }
    Reading::Quiet
}

/// The states of the alarms among `names` that exist (metric and
/// composite alarms alike).
async fn describe(client: &Client, names: &[String]) -> Result<Vec<State>, String> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .describe_alarms()
            .set_alarm_names(Some(names.to_vec()))
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .max_records(100)
            .set_next_token(token)
            .send()
            .with_subscriber(NoSubscriber::default())
            .await
            .map_err(|e| api_error(&e))?;
        out.extend(
            page.metric_alarms()
                .iter()
                .map(|a| State::of(a.alarm_name(), a.state_value(), a.state_reason())),
        );
        out.extend(
            page.composite_alarms()
                .iter()
                .map(|a| State::of(a.alarm_name(), a.state_value(), a.state_reason())),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatch::config::http::HttpResponse;
    use aws_sdk_cloudwatch::error::{ErrorMetadata, SdkError};
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsError;

    fn state(name: &str, state: StateValue, reason: &str) -> State {
        State {
            name: name.into(),
            state,
            reason: reason.into(),
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_the_alarm_state_is_in_alarm() {
        let states = [
            state("a", StateValue::Ok, "fine"),
            state("b", StateValue::InsufficientData, "no data yet"),
        ];
        assert_eq!(verdict(&names(&["a", "b"]), &states, "p"), Reading::Quiet);
        let states = [
            state("a", StateValue::Ok, "fine"),
            state("b", StateValue::Alarm, "Threshold Crossed: 3 > 1"),
        ];
        assert_eq!(
            verdict(&names(&["a", "b"]), &states, "p"),
            Reading::InAlarm("CloudWatch alarm `b` is in ALARM: Threshold Crossed: 3 > 1".into())
        );
    }

    #[test]
    fn a_missing_alarm_is_named_and_the_files_order_decides() {
        let states = [state("b", StateValue::Alarm, "ringing")];
        assert_eq!(
            verdict(&names(&["a", "b"]), &states, "profile `prod`, eu-west-1"),
            Reading::InAlarm(
                "CloudWatch alarm `a` does not exist (profile `prod`, eu-west-1)".into()
            )
        );
    }

    #[test]
    fn a_long_reason_is_cut() {
        let long = "x".repeat(REASON_MAX + 50);
        let Reading::InAlarm(message) =
            verdict(&names(&["a"]), &[state("a", StateValue::Alarm, &long)], "p")
        else {
            panic!("in alarm");
        };
        assert!(
            message.ends_with('…') && message.len() < long.len(),
            "{message}"
        );
    }

    #[test]
    fn names_are_read_once_each() {
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        let alarms =
            CloudWatchAlarms::new(names(&["a", "b", "a"]), Account::default(), None, clock);
        assert_eq!(alarms.names, ["a", "b"]);
    }

    #[test]
    fn an_api_error_is_its_code_and_message() {
        let denied = DescribeAlarmsError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("User: arn:aws:sts::1:assumed-role/deploy is not authorized to perform: cloudwatch:DescribeAlarms")
                .build(),
        );
        let response = HttpResponse::new(403u16.try_into().unwrap(), "raw body".into());
        let e = SdkError::service_error(denied, response);
        assert_eq!(
            api_error(&e),
            "AccessDenied: User: arn:aws:sts::1:assumed-role/deploy is not authorized to perform: cloudwatch:DescribeAlarms"
        );
        let bare = DescribeAlarmsError::generic(ErrorMetadata::builder().build());
        let response = HttpResponse::new(503u16.try_into().unwrap(), "<html>".into());
        let e = SdkError::service_error(bare, response);
        assert_eq!(api_error(&e), "HTTP 503 with no AWS error code");
    }
}
