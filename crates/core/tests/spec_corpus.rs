//! Real buildspecs and appspecs from public repositories (a corpus kept
//! beside the clone, not in it; [`corpus`] says where it is looked for):
//! every file AWS accepts must validate, and every file AWS rejects must be
//! refused with a located error that says why.

use std::path::{Path, PathBuf};

use slipway_core::spec::{self, Kind};

fn corpus() -> PathBuf {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    assert!(
        dir.join("MANIFEST.tsv").is_file(),
        "the real-world corpus is missing: expected it at {} (../shared/corpus from the repo root)",
        dir.display()
    );
    dir.to_path_buf()
}

/// Files AWS refuses, with the reason: (file name, expected error text, line).
/// Each was decided from AWS's documented behaviour or its agent's code, not
/// from the collector's notes alone.
const REJECTED: &[(&str, &str, usize)] = &[
    // --- buildspecs ---
    // CodeBuild refuses phase names it does not know.
    ("ABRGI__nelson-short-links-service__buildspec.yaml", "unknown phase `pre-build`; did you mean `pre_build`?", 7),
    // A GitHub Actions `steps:` list inside a phase: CodeBuild has no such key.
    ("96browng__liquibase-poc__buildspec.yaml", "unknown key `steps` in phase `build`", 8),
    // `post_build:` indented under `build`, then `commands:` given twice.
    ("awslabs__aws-crt-python__codebuild__cd__manylinux1-tee.yml", "`post_build` is indented inside the `build` phase", 19),
    // `version` is required by the buildspec reference.
    ("ca-risken__core__codebuild__multi-arch__buildspec-batch.yml", "missing `version`", 1),
    // An OCI DevOps build spec (component/steps/outputArtifacts), not CodeBuild's.
    ("dlcbld__BuildSpecSampleFiles__buildSpecDefaultJavaVersion.yml", "unknown top-level key `component`", 3),
    // `image: ${…}:${…}` unquoted: YAML reads a mapping; CodeBuild fails with
    // "Expected Commands[12] to be of string type: found subkeys instead".
    ("insidero__parameterized-aws-codebuild-docker-image-buildspec__buildspec.yml", "expected a command, found a mapping", 35),
    // `os:` is an appspec key; a buildspec has no such section.
    ("ivan-lin1993__eks-codedeploy-demo__buildspec.yml", "unknown top-level key `os`", 2),
    // `build-matrix` belongs under `batch:`; at the top it does nothing.
    ("smarigowda__cypress-example-kitchensink__buildspec_single.yml", "did you mean `batch.build-matrix`?", 6),
    ("smarigowda__playwright-sample__buildspec.yml", "did you mean `batch.build-matrix`?", 6),
    // --- appspecs ---
    // The CodeDeploy agent accepts only version 0.0 (it compares numerically).
    ("DEKHTIARJonathan__FeedCrunch.IO__codedeploy__appspec.yml", "unsupported appspec version `1.1`", 1),
    ("trandinhvi39__appspec-codedeploy-aws-nodejs-server__appspec.yml", "unsupported appspec version `0.2`", 1),
    // A stray `\` before `AfterInstall:` pulls the hook out of `hooks`.
    ("0x-x0__code_deploy_example__appspec.yml", "looks like the lifecycle event `AfterInstall` outside `hooks`", 19),
    // Templates whose placeholders are substituted before deployment: as
    // committed, CodeDeploy refuses them.
    ("35middle__35middle-app__appspec.json", "expected a port", 10),
    ("Jareechang__ecs-nextjs__appspec.json", "expected a port", 10),
    ("nataliavaz__pipeline-git-ecs-codedeploy__templates__appspec.yml", "expected a port", 9),
    ("chrispsheehan__aws-serverless-github-deploy__config__deploy__appspec-ecs.yml", "expected a port", 9),
    ("aws-samples__aws-codedeploy-appspec-assistant__ecs-default-appspec-template-advanced.json", "`ENABLED-or-DISABLED` is not a valid AssignPublicIp value", 23),
    ("aws-samples__aws-codedeploy-appspec-assistant__server-(ec2-and-onPrem)-default-appspec-template-advanced.json", "not an octal permission mode", 17),
    ("toluna-terraform__terraform-aws-lambda-gitflow__templates__appspec.json.tpl", "YAML syntax error", 17),
    // The docs' placeholder event name, never replaced.
    ("AlphaPL__aws-lambda-helloworld__appspec.yaml", "`LifeCycleEvent` is not a Lambda lifecycle event", 23),
    // A SAM template saved under the appspec's name.
    ("3rd-stone__AWS-url-shorten-serverless-application-pipeline__appspec.yaml", "expected `Resources` to be a list", 5),
    // Only comments: CodeDeploy finds no version, os or anything else.
    ("melike-kaya__CressoftTask__appspec-ec2.yml", "the file is empty", 1),
];

fn check_dir(sub: &str, kind: Kind) {
    let dir = corpus().join(sub);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() > 50,
        "expected the full corpus in {}",
        dir.display()
    );
    let mut problems = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let errors = spec::check(&text, name, kind);
        match REJECTED.iter().find(|(f, _, _)| *f == name) {
            None if errors.is_empty() => {}
            None => problems.push(format!(
                "{name} should validate but got:\n{}",
                errors
                    .iter()
                    .map(|e| format!("    {e}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
            Some((_, want, line)) => {
                if !errors
                    .iter()
                    .any(|e| e.message.contains(want) && e.line == *line)
                {
                    problems.push(format!(
                        "{name} should be refused with `{want}` on line {line}, got:\n{}",
                        errors
                            .iter()
                            .map(|e| format!("    {e}"))
                            .collect::<Vec<_>>()
                            .join("\n")
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} corpus problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_real_buildspec_aws_accepts_validates() {
    check_dir("buildspec", Kind::Buildspec);
}

#[test]
fn every_real_appspec_aws_accepts_validates() {
    check_dir("appspec", Kind::Appspec);
}
