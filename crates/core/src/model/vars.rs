//! `#{Namespace.NAME}` references, CodePipeline's syntax: pipeline
//! variables (`#{variables.NAME}`), the source revision (`#{Source.COMMIT_ID}`),
//! the execution (`#{codepipeline.PipelineExecutionId}`) and the variables
//! earlier actions exported under their `namespace`.
//!
//! Plain values and a pure substitution: the engine fills them as actions
//! run and the deployer reads them (the `command` provider's commands, a
//! rollback's `#{rollback.NAME}`), so they sit in the vocabulary below both.

use std::collections::{BTreeMap, HashMap};

/// Namespace -> name -> value.
#[derive(Debug, Clone, Default)]
pub struct Namespaces(HashMap<String, BTreeMap<String, String>>);

impl Namespaces {
    pub fn insert(&mut self, namespace: &str, values: BTreeMap<String, String>) {
        self.0
            .entry(namespace.to_string())
            .or_default()
            .extend(values);
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<&str> {
        self.0.get(namespace)?.get(name).map(String::as_str)
    }

    pub fn namespace(&self, namespace: &str) -> Option<&BTreeMap<String, String>> {
        self.0.get(namespace)
    }

    /// Replaces every `#{Namespace.NAME}` in `text`. A reference to nothing
    /// is an error naming it, never an empty string: a deploy command run
    /// with a blank version is worse than one not run.
    pub fn substitute(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("#{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return Ok(out);
            };
            let reference = &after[..end];
            let value = reference
                .split_once('.')
                .and_then(|(ns, name)| self.get(ns.trim(), name.trim()))
                .ok_or_else(|| format!("`#{{{reference}}}` has no value in this execution"))?;
            out.push_str(value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_replaced_and_unknown_ones_refused() {
        let mut ns = Namespaces::default();
        ns.insert(
            "Build",
            BTreeMap::from([("VERSION".to_string(), "1.4.2".to_string())]),
        );
        assert_eq!(
            ns.substitute("Promote #{Build.VERSION} to prod? #{ Build.VERSION }")
                .unwrap(),
            "Promote 1.4.2 to prod? 1.4.2"
        );
        assert_eq!(
            ns.substitute("no refs, {braces}").unwrap(),
            "no refs, {braces}"
        );
        let err = ns.substitute("#{Build.NOPE}").unwrap_err();
        assert!(err.contains("#{Build.NOPE}"), "{err}");
    }
}
