//! The closed sets of names that are not statuses: deploy providers, action
//! types, approval decisions, what started an execution and how it is
//! asked to stop, profile kinds and the processes that host a core. Each is spelled as the pipeline format,
//! stored rows and the wire already spell it.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{closed_set, UnknownValue};

closed_set! {
    /// Which provider carries a deployment out (an environment's `provider:`).
    pub enum ProviderKind ("deploy provider") {
        /// Local instances behind a router Slipway runs.
        Local = "local",
        /// The user's own deploy tooling.
        Command = "command",
        /// A Lambda function's alias.
        Lambda = "lambda",
        /// A bucket holding a static site.
        S3 = "s3",
        /// A CloudFormation stack.
        CloudFormation = "cloudformation",
        /// An ECS service.
        Ecs = "ecs",
    }
}

closed_set! {
    /// An action's `type:` in a pipeline file.
    pub enum ActionType ("action type") {
        Source = "source",
        Build = "build",
        Test = "test",
        Approval = "approval",
        Deploy = "deploy",
        Command = "command",
        /// Reserved: the pipeline format refuses it for now.
        Invoke = "invoke",
    }
}

closed_set! {
    /// What a person decided on an approval action.
    pub enum ApprovalDecision ("approval decision") {
        Approved = "Approved",
        Rejected = "Rejected",
    }
}

closed_set! {
    /// A credential profile's kind.
    pub enum ProfileKind ("profile kind") {
        /// The user's own long-term keys, kept in the keychain.
        Keys = "keys",
        /// A role assumed from another profile.
        Role = "role",
    }
}

closed_set! {
    /// Which process opened a core (and so runs its engine, if it does).
    pub enum Host ("host") {
        /// The desktop app: its window or its tray.
        Desktop = "desktop",
        /// `slipway serve`: a browser.
        Serve = "serve",
        /// A one-shot `slipway` command.
        Cli = "cli",
        /// `slipway watch`.
        Watch = "watch",
    }
}

closed_set! {
    /// How a person asked an execution to stop.
    pub enum StopMode ("stop mode") {
        /// Running actions finish first.
        Wait = "wait",
        /// Running actions end now.
        Abandon = "abandon",
    }
}

/// What started an execution, spelled `manual`, `schedule`,
/// `push:<branch>`, `tag:<tag>` or `retry:<id>` in rows, JSON and output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExecutionTrigger {
    /// A person: the CLI, the UI's "Release change".
    Manual,
    /// A pipeline's `schedule` trigger.
    Schedule,
    /// A commit pushed to this branch.
    Push(String),
    /// This tag.
    Tag(String),
    /// A retry of this execution.
    Retry(String),
}

impl ExecutionTrigger {
    const KNOWN: &'static str = "manual, schedule, push:<branch>, tag:<tag>, retry:<id>";

    /// The member spelled `text`, or an error naming the set.
    pub fn parse(text: &str) -> Result<ExecutionTrigger, UnknownValue> {
        match text {
            "manual" => return Ok(ExecutionTrigger::Manual),
            "schedule" => return Ok(ExecutionTrigger::Schedule),
            _ => {}
        }
        let parsed = match text.split_once(':') {
            Some(("push", branch)) => Some(ExecutionTrigger::Push(branch.to_string())),
            Some(("tag", tag)) => Some(ExecutionTrigger::Tag(tag.to_string())),
            Some(("retry", id)) => Some(ExecutionTrigger::Retry(id.to_string())),
            _ => None,
        };
        parsed.ok_or_else(|| UnknownValue {
            set: "trigger",
            value: text.to_string(),
            known: Self::KNOWN.to_string(),
        })
    }
}

impl ExecutionTrigger {
    /// The spelling rows, JSON and output use.
    pub fn spelling(&self) -> Cow<'static, str> {
        match self {
            ExecutionTrigger::Manual => Cow::Borrowed("manual"),
            ExecutionTrigger::Schedule => Cow::Borrowed("schedule"),
            ExecutionTrigger::Push(branch) => Cow::Owned(format!("push:{branch}")),
            ExecutionTrigger::Tag(tag) => Cow::Owned(format!("tag:{tag}")),
            ExecutionTrigger::Retry(id) => Cow::Owned(format!("retry:{id}")),
        }
    }
}

impl fmt::Display for ExecutionTrigger {
    /// The spelling, padded as the format asks.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.spelling())
    }
}

impl FromStr for ExecutionTrigger {
    type Err = UnknownValue;
    fn from_str(text: &str) -> Result<ExecutionTrigger, UnknownValue> {
        ExecutionTrigger::parse(text)
    }
}

impl PartialEq<str> for ExecutionTrigger {
    fn eq(&self, other: &str) -> bool {
        self.spelling() == other
    }
}

impl PartialEq<&str> for ExecutionTrigger {
    fn eq(&self, other: &&str) -> bool {
        self.spelling() == *other
    }
}

impl Serialize for ExecutionTrigger {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.spelling())
    }
}

impl<'de> Deserialize<'de> for ExecutionTrigger {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        ExecutionTrigger::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// In TypeScript: the union of the spellings, the ones with data as
/// template literals.
impl ts_rs::TS for ExecutionTrigger {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;

    fn name(_: &ts_rs::Config) -> String {
        "ExecutionTrigger".into()
    }

    fn inline(_: &ts_rs::Config) -> String {
        "\"manual\" | \"schedule\" | `push:${string}` | `tag:${string}` | `retry:${string}`".into()
    }

    fn decl(cfg: &ts_rs::Config) -> String {
        format!("type {} = {};", Self::name(cfg), Self::inline(cfg))
    }

    fn decl_concrete(cfg: &ts_rs::Config) -> String {
        Self::decl(cfg)
    }

    fn output_path() -> Option<std::path::PathBuf> {
        Some(std::path::PathBuf::from("ExecutionTrigger.ts"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_closed_set_round_trips_through_its_spelling_and_json() {
        for &p in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(p.as_str()), Ok(p));
        }
        for &t in ActionType::ALL {
            assert_eq!(ActionType::parse(t.as_str()), Ok(t));
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.as_str())
            );
        }
        for &h in Host::ALL {
            assert_eq!(Host::parse(h.as_str()), Ok(h));
        }
        assert_eq!(
            serde_json::to_string(&ApprovalDecision::Approved).unwrap(),
            "\"Approved\""
        );
        assert_eq!(ProfileKind::Role, "role");
        assert!(ProviderKind::parse("kubernetes").is_err());
        assert_eq!(
            ProviderKind::parse("cloudformation"),
            Ok(ProviderKind::CloudFormation)
        );
        // Output lines pad them as they padded the strings they replace.
        assert_eq!(format!("{:<7}|", ProviderKind::Local), "local  |");
        assert_eq!(format!("{:<8}|", ExecutionTrigger::Manual), "manual  |");
        assert!(ApprovalDecision::parse("approved").is_err());
    }

    #[test]
    fn a_trigger_is_its_spelling_and_an_unknown_one_is_refused() {
        let cases = [
            ("manual", ExecutionTrigger::Manual),
            ("schedule", ExecutionTrigger::Schedule),
            ("push:feature/x", ExecutionTrigger::Push("feature/x".into())),
            ("tag:v1.2:rc", ExecutionTrigger::Tag("v1.2:rc".into())),
            ("retry:e-1", ExecutionTrigger::Retry("e-1".into())),
        ];
        for (text, trigger) in cases {
            assert_eq!(ExecutionTrigger::parse(text), Ok(trigger.clone()));
            assert_eq!(trigger.to_string(), text);
            assert_eq!(trigger, text);
            let json = serde_json::to_string(&trigger).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(
                serde_json::from_str::<ExecutionTrigger>(&json).unwrap(),
                trigger
            );
        }
        for bad in ["Manual", "cron", "branch:main", ""] {
            let err = ExecutionTrigger::parse(bad).unwrap_err();
            assert!(err.to_string().contains("push:<branch>"), "{err}");
            assert!(serde_json::from_str::<ExecutionTrigger>(&format!("\"{bad}\"")).is_err());
        }
    }

    #[test]
    fn a_trigger_is_a_union_of_string_literals_in_typescript() {
        use ts_rs::TS;
        let cfg = ts_rs::Config::new();
        assert_eq!(
            ExecutionTrigger::decl(&cfg),
            "type ExecutionTrigger = \"manual\" | \"schedule\" | `push:${string}` | `tag:${string}` | `retry:${string}`;"
        );
    }
}
