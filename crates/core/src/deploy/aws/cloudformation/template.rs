//! The template as a deployment sends it: read from the revision's files,
//! held to what CloudFormation takes in one request, and read just enough
//! to know which parameters are secret (`NoEcho`).

use std::collections::BTreeSet;
use std::path::{Component, Path};

use crate::spec::yaml::{self, Node, Value};

/// The most a `TemplateBody` may hold (CloudFormation's limit). Larger
/// templates go through S3 (`TemplateURL`), which Slipway does not upload.
pub const MAX_BODY: usize = 51_200;

/// The template at `path` in the revision's files `dir`.
pub fn read(dir: &Path, path: &str) -> Result<String, String> {
    let relative = Path::new(path);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(format!(
            "template `{path}` must be a path inside the input artifact"
        ));
    }
    let file = dir.join(relative);
    let bytes = std::fs::read(&file).map_err(|e| {
        format!("template `{path}` is not in the revision's files (the deploy action's input artifact): {e}")
    })?;
    fits(path, bytes.len())?;
    String::from_utf8(bytes).map_err(|_| format!("template `{path}` is not UTF-8 text"))
}

/// Refuses a template CloudFormation would not take in a request.
pub fn fits(path: &str, len: usize) -> Result<(), String> {
    if len > MAX_BODY {
        return Err(format!(
            "template `{path}` is {len} bytes: CloudFormation takes at most {MAX_BODY} bytes \
             in a request; a larger template must be uploaded to S3 (TemplateURL), which \
             Slipway does not do yet — split it into nested stacks or trim it"
        ));
    }
    Ok(())
}

/// The template's parameters declared `NoEcho: true`: their values are
/// secrets, never logged nor recorded. A template this cannot read yields
/// none (CloudFormation's own answer says what is wrong with it).
pub fn no_echo(body: &str) -> BTreeSet<String> {
    let Ok(doc) = yaml::load(body, "template") else {
        return BTreeSet::new();
    };
    let Some(Value::Mapping(params)) = get(&doc.root, "Parameters").map(|n| &n.value) else {
        return BTreeSet::new();
    };
    params
        .iter()
        .filter(|p| {
            get(&p.value, "NoEcho").is_some_and(|n| {
                n.as_bool() == Some(true)
                    || n.text().is_some_and(|t| t.eq_ignore_ascii_case("true"))
            })
        })
        .filter_map(|p| p.key.text().map(str::to_string))
        .collect()
}

fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.value {
        Value::Mapping(entries) => entries
            .iter()
            .find(|e| e.key.text() == Some(key))
            .map(|e| &e.value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_over_cloudformations_request_limit_is_refused_with_why() {
        assert!(fits("template.yml", MAX_BODY).is_ok());
        let why = fits("template.yml", MAX_BODY + 1).unwrap_err();
        assert!(why.contains("51201 bytes"), "{why}");
        assert!(why.contains("S3"), "{why}");
    }

    #[test]
    fn the_template_is_read_from_the_artifact_and_nowhere_else() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("template.yml"), "Resources: {}\n").unwrap();
        assert_eq!(read(dir.path(), "template.yml").unwrap(), "Resources: {}\n");
        let missing = read(dir.path(), "infra/stack.yml").unwrap_err();
        assert!(missing.contains("infra/stack.yml"), "{missing}");
        assert!(read(dir.path(), "../template.yml")
            .unwrap_err()
            .contains("inside the input artifact"));
        std::fs::write(dir.path().join("big.json"), vec![b' '; MAX_BODY + 10]).unwrap();
        assert!(read(dir.path(), "big.json").unwrap_err().contains("bytes"));
    }

    #[test]
    fn no_echo_parameters_are_found_in_yaml_with_short_tags_and_in_json() {
        let yaml = r#"
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env: { Type: String }
  DbPassword:
    Type: String
    NoEcho: true
  ApiKey:
    Type: String
    NoEcho: "true"
Resources:
  Secret:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/orders/${Env}/key"
      Type: String
      Value: !Ref ApiKey
"#;
        assert_eq!(
            no_echo(yaml).into_iter().collect::<Vec<_>>(),
            ["ApiKey", "DbPassword"]
        );
        let json = r#"{"Parameters": {"Token": {"Type": "String", "NoEcho": true}, "Env": {"Type": "String", "NoEcho": false}}, "Resources": {}}"#;
        assert_eq!(no_echo(json).into_iter().collect::<Vec<_>>(), ["Token"]);
        assert!(no_echo("Resources: [unclosed").is_empty());
    }
}
