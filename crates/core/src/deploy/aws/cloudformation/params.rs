//! A stack's parameters as a deployment gives them: resolved from the
//! environment's `parameters` (`#{…}` substituted) for a deploy, the
//! target's recorded values for a rollback. Secret ones (`NoEcho`) are
//! never written down: the record keeps [`MASK`], and a rollback leaves
//! such a parameter at the stack's current value (`UsePreviousValue`).

use std::collections::BTreeSet;

use aws_sdk_cloudformation::types::Parameter;

use crate::model::Namespaces;

/// How a secret parameter's value shows in records and logs (and how
/// CloudFormation shows it).
pub const MASK: &str = "****";

/// One parameter of the change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub key: String,
    /// `None`: keep the stack's current value.
    pub value: Option<String>,
}

/// The environment's parameters, each value `#{…}`-substituted.
pub fn resolve(namespaces: &Namespaces, given: &[(String, String)]) -> Result<Vec<Param>, String> {
    given
        .iter()
        .map(|(key, text)| {
            let value = crate::deploy::aws::substitute(namespaces, text)
                .map_err(|e| format!("parameter `{key}`: {e}"))?;
            Ok(Param {
                key: key.clone(),
                value: Some(value),
            })
        })
        .collect()
}

/// The parameters a deployment recorded, to deploy again: a masked
/// (secret) one keeps the stack's current value.
pub fn restored(recorded: &[(String, String)]) -> Vec<Param> {
    recorded
        .iter()
        .map(|(key, value)| Param {
            key: key.clone(),
            value: (value != MASK).then(|| value.clone()),
        })
        .collect()
}

/// What the record keeps (and the log shows): secrets masked.
pub fn recorded(params: &[Param], secret: &BTreeSet<String>) -> Vec<(String, String)> {
    params
        .iter()
        .map(|p| {
            let value = match &p.value {
                Some(v) if !secret.contains(&p.key) => v.clone(),
                _ => MASK.to_string(),
            };
            (p.key.clone(), value)
        })
        .collect()
}

/// "Env=prod, Version=v1" for the log.
pub fn shown(params: &[Param], secret: &BTreeSet<String>) -> String {
    if params.is_empty() {
        return "no parameters".into();
    }
    recorded(params, secret)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The keys CloudFormation masked in its answer (`NoEcho` parameters it
/// knows of that the template read here did not show).
pub fn masked_by_aws(answer: &[Parameter], ours: &[Param]) -> BTreeSet<String> {
    answer
        .iter()
        .filter(|p| {
            let shown = p.parameter_value().unwrap_or_default();
            shown.len() >= 3
                && shown.chars().all(|c| c == '*')
                && ours.iter().any(|o| {
                    Some(o.key.as_str()) == p.parameter_key() && o.value.as_deref() != Some(shown)
                })
        })
        .filter_map(|p| p.parameter_key().map(str::to_string))
        .collect()
}

/// The change set's parameters, as the SDK sends them.
pub fn sdk(params: &[Param]) -> Vec<Parameter> {
    params
        .iter()
        .map(|p| match &p.value {
            Some(v) => Parameter::builder()
                .parameter_key(&p.key)
                .parameter_value(v)
                .build(),
            None => Parameter::builder()
                .parameter_key(&p.key)
                .use_previous_value(true)
                .build(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn param(key: &str, value: &str) -> Param {
        Param {
            key: key.into(),
            value: Some(value.into()),
        }
    }

    #[test]
    fn values_are_substituted_and_a_missing_variable_names_its_parameter() {
        let mut ns = Namespaces::default();
        ns.insert(
            "Build",
            BTreeMap::from([("VERSION".to_string(), "1.4.2".to_string())]),
        );
        let given = vec![
            ("Env".to_string(), "prod".to_string()),
            ("Version".to_string(), "#{Build.VERSION}".to_string()),
        ];
        assert_eq!(
            resolve(&ns, &given).unwrap(),
            vec![param("Env", "prod"), param("Version", "1.4.2")]
        );
        let missing = vec![("Image".to_string(), "#{Build.IMAGE}".to_string())];
        let e = resolve(&ns, &missing).unwrap_err();
        assert!(e.starts_with("parameter `Image`: "), "{e}");
        assert!(e.contains("#{Build.IMAGE}"), "{e}");
    }

    #[test]
    fn secrets_are_masked_in_the_record_and_kept_at_their_current_value_on_rollback() {
        let secret = BTreeSet::from(["DbPassword".to_string()]);
        let params = vec![param("Version", "v1"), param("DbPassword", "hunter2")];
        let kept = recorded(&params, &secret);
        assert_eq!(
            kept,
            vec![
                ("Version".to_string(), "v1".to_string()),
                ("DbPassword".to_string(), MASK.to_string())
            ]
        );
        assert!(!shown(&params, &secret).contains("hunter2"));
        assert_eq!(
            restored(&kept),
            vec![
                param("Version", "v1"),
                Param {
                    key: "DbPassword".into(),
                    value: None
                }
            ]
        );
        let sent = sdk(&restored(&kept));
        assert_eq!(sent[0].parameter_value(), Some("v1"));
        assert_eq!(sent[1].use_previous_value(), Some(true));
        assert_eq!(sent[1].parameter_value(), None);
    }

    #[test]
    fn a_value_cloudformation_masks_marks_its_parameter_secret() {
        let ours = vec![param("Version", "v1"), param("Token", "abc")];
        let answer = vec![
            Parameter::builder()
                .parameter_key("Version")
                .parameter_value("v1")
                .build(),
            Parameter::builder()
                .parameter_key("Token")
                .parameter_value("****")
                .build(),
        ];
        assert_eq!(
            masked_by_aws(&answer, &ours)
                .into_iter()
                .collect::<Vec<_>>(),
            ["Token"]
        );
        // A value that really is asterisks is no sign of masking.
        let ours = vec![param("Stars", "****")];
        let answer = vec![Parameter::builder()
            .parameter_key("Stars")
            .parameter_value("****")
            .build()];
        assert!(masked_by_aws(&answer, &ours).is_empty());
    }
}
