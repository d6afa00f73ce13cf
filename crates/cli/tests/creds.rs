//! `slipway creds` and `slipway secret` as a user runs them: real keychain
//! (Secret Service from `tests/with-keyring.sh`), real STS (moto), the real
//! AWS CLI reading `creds process`.

mod support;

use std::path::Path;
use std::process::Command;

use support::{require_keyring, run_with_stdin, Moto, World};

const LONG_TERM_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
const IMPORTED_SECRET: &str = "imported+Secret/ValueFromAwsCredentials00";
const LOCAL_SECRET: &str = "db-password-6c1f9e2a";

struct Creds {
    world: World,
    moto: Moto,
}

impl Creds {
    fn new() -> Creds {
        require_keyring();
        Creds {
            world: World::new(),
            moto: Moto::start(),
        }
    }

    fn cmd(&self) -> Command {
        let mut cmd = self.world.slipway();
        cmd.env("AWS_ENDPOINT_URL_STS", &self.moto.url);
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "slipway {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// `me` (keys) -> `staging` (111…) -> `prod` (222…).
    fn chain(&self) {
        let out = run_with_stdin(
            self.cmd(),
            &[
                "creds",
                "add",
                "me",
                "--access-key-id",
                "AKIAEXAMPLE",
                "--region",
                "eu-west-1",
            ],
            &format!("{LONG_TERM_SECRET}\n"),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.ok(&[
            "creds",
            "add",
            "staging",
            "--source",
            "me",
            "--role-arn",
            "arn:aws:iam::111111111111:role/staging",
        ]);
        self.ok(&[
            "creds",
            "add",
            "prod",
            "--source",
            "staging",
            "--role-arn",
            "arn:aws:iam::222222222222:role/deploy",
            "--external-id",
            "ext-9",
        ]);
    }
}

/// The usernames of Slipway's Secret Service items (never their secrets).
fn secret_tool_items() -> String {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", "slipway"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .filter(|l| l.starts_with("attribute.username"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn keys_added_by_one_process_are_used_by_the_next_through_the_keychain() {
    let c = Creds::new();
    c.chain();
    let out = run_with_stdin(
        c.cmd(),
        &[
            "creds",
            "add",
            "cross-process-owner",
            "--access-key-id",
            "AKIAOTHER",
        ],
        "another-secret",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = c.json(&["creds", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 4);
    assert_eq!(list[2]["account"], "222222222222");
    assert!(!list.to_string().contains(LONG_TERM_SECRET));
    // The keys are a real Secret Service item, not in-process memory.
    let items = secret_tool_items();
    assert!(items.contains("/keys/cross-process-owner"), "{items}");
    let id = c.json(&["creds", "whoami", "prod", "--json"]);
    assert_eq!(id["account"], "222222222222");
    assert!(id["arn"].as_str().unwrap().contains("assumed-role/deploy/"));
    assert!(id["user_id"].is_string());

    let out = c.cmd().args(["creds", "remove", "me"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "in use by staging");
    c.ok(&["creds", "remove", "prod"]);
    c.ok(&["creds", "remove", "staging"]);
    c.ok(&["creds", "remove", "me"]);
    c.ok(&["creds", "remove", "cross-process-owner"]);
    let items = secret_tool_items();
    assert!(!items.contains("/keys/cross-process-owner"), "{items}");
}

#[test]
fn without_a_keychain_slipway_says_what_to_start_and_keeps_nothing() {
    let world = World::new();
    let out = run_with_stdin(
        {
            let mut cmd = world.slipway();
            cmd.env(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/slipway-bus",
            );
            cmd
        },
        &["creds", "add", "me", "--access-key-id", "AKIAEXAMPLE"],
        LONG_TERM_SECRET,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no OS keychain is reachable"), "{stderr}");
    assert!(stderr.contains("gnome-keyring"), "{stderr}");
    assert!(!stderr.contains(LONG_TERM_SECRET));
    let list = world.json(&["creds", "list", "--json"]);
    assert_eq!(list, serde_json::json!([]), "no profile without its keys");
}

#[test]
fn exec_runs_with_the_session_only_and_passes_the_exit_code() {
    let c = Creds::new();
    c.chain();
    let out = c
        .cmd()
        .env("AWS_PROFILE", "someone-else")
        .args([
            "creds",
            "exec",
            "prod",
            "--",
            "sh",
            "-c",
            "echo \"$AWS_REGION:${AWS_PROFILE:-none}:${#AWS_SESSION_TOKEN}\"; exit 3",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.trim();
    assert!(line.starts_with("eu-west-1:none:"), "{line}");
    assert_ne!(line, "eu-west-1:none:0");

    let env = c.ok(&["creds", "env", "prod"]);
    let names: Vec<&str> = env
        .lines()
        .map(|l| l.trim_start_matches("export ").split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION"
        ]
    );
    let usage = c.cmd().args(["creds", "exec", "prod"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn creds_process_is_accepted_by_the_real_aws_cli() {
    let c = Creds::new();
    c.chain();
    let doc = c.json(&["creds", "process", "prod"]);
    assert_eq!(doc["Version"], 1);
    assert!(doc["Expiration"].as_str().unwrap().ends_with('Z'));

    let aws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/aws");
    assert!(
        aws.exists(),
        "{} is missing: run `make test` (it installs awscli)",
        aws.display()
    );
    let config = c.world.dir.path().join("aws-config");
    std::fs::write(
        &config,
        format!(
            "[profile via-slipway]\ncredential_process = {} creds process prod\nregion = eu-west-1\n",
            env!("CARGO_BIN_EXE_slipway")
        ),
    )
    .unwrap();
    let out = Command::new(aws)
        .args([
            "sts",
            "get-caller-identity",
            "--profile",
            "via-slipway",
            "--output",
            "json",
        ])
        .env("AWS_CONFIG_FILE", &config)
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            c.world.dir.path().join("none"),
        )
        .env("AWS_ENDPOINT_URL_STS", &c.moto.url)
        .env("SLIPWAY_HOME", c.world.data())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "aws: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(id["Account"], "222222222222");
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn after_a_full_run_no_secret_is_in_the_data_directory_or_any_log() {
    let c = Creds::new();
    c.chain();
    let creds_file = c.world.dir.path().join("credentials");
    std::fs::write(
        &creds_file,
        format!("[imported]\naws_access_key_id = AKIAIMPORTED\naws_secret_access_key = {IMPORTED_SECRET}\n"),
    )
    .unwrap();
    let config_file = c.world.dir.path().join("config");
    std::fs::write(&config_file, "[profile imported]\nregion = us-east-2\n").unwrap();

    let mut logs = String::new();
    let mut run = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = c.cmd();
        cmd.env("SLIPWAY_LOG", "trace");
        let out = match stdin {
            Some(s) => run_with_stdin(cmd, args, s),
            None => cmd.args(args).output().unwrap(),
        };
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        logs.push_str(&String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let import = run(
        &[
            "creds",
            "import",
            "--config",
            config_file.to_str().unwrap(),
            "--credentials",
            creds_file.to_str().unwrap(),
        ],
        None,
    );
    assert!(import.contains("imported imported (keys)"), "{import}");
    run(&["secret", "set", "/prod/db"], Some(LOCAL_SECRET));
    assert_eq!(run(&["secret", "list"], None).trim(), "/prod/db");
    let env = run(&["creds", "env", "prod"], None);
    run(&["creds", "exec", "imported", "--", "true"], None);
    run(&["creds", "whoami", "prod"], None);
    // A pipeline whose build prints its secrets, and an action printing its
    // session: the logs under the data directory are swept below.
    c.world.repo(
        "leaky",
        &[
            (
                ".slipway/ci.yml",
                "version: 1\nenvironments:\n  prod:\n    provider: command\n    account: prod\n    deploy: ['true']\nstages:\n  - name: S\n    actions:\n      - { name: build, type: build }\n      - { name: session, type: command, environment: prod, commands: ['echo $AWS_SECRET_ACCESS_KEY $AWS_SESSION_TOKEN $AWS_ACCESS_KEY_ID'] }\n",
            ),
            (
                "buildspec.yml",
                "version: 0.2\nenv:\n  secrets-manager:\n    DB: /prod/db\nphases:\n  build:\n    commands:\n      - echo \"the db password is $DB\"\n      - printf '%s\\n' \"$DB\" | rev | rev\n",
            ),
        ],
    );
    run(&["run", "leaky/ci", "--wait"], None);

    let mut secrets = vec![
        LONG_TERM_SECRET.to_string(),
        IMPORTED_SECRET.into(),
        LOCAL_SECRET.into(),
    ];
    secrets.push("AKIAIMPORTED".into());
    for line in env.lines().take(3) {
        let value = line.split_once('=').unwrap().1.trim_matches('\'');
        secrets.push(value.to_string());
    }
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the log output"
        );
        for file in files(&c.world.data()) {
            let bytes = std::fs::read(&file).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret is in {}",
                file.display()
            );
        }
    }
}

#[test]
fn a_pipeline_action_gets_only_its_environments_session_masked_in_its_log() {
    let c = Creds::new();
    c.chain();
    let out = run_with_stdin(
        c.cmd(),
        &["secret", "set", "/shop/db/password"],
        &format!("{LOCAL_SECRET}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.world.repo(
        "shop",
        &[
            (
                ".slipway/release.yml",
                "version: 1\nenvironments:\n  prod:\n    provider: command\n    account: prod\n    region: eu-central-1\n    deploy: ['true']\nstages:\n  - name: Check\n    actions:\n      - name: who\n        type: command\n        environment: prod\n        commands:\n          - env | grep '^AWS_' | cut -d= -f1 | sort | tr '\\n' ' '; echo\n          - echo \"key=$AWS_ACCESS_KEY_ID secret=$AWS_SECRET_ACCESS_KEY region=$AWS_REGION\"\n      - { name: build, type: build, buildspec: buildspec.yml }\n",
            ),
            (
                "buildspec.yml",
                "version: 0.2\nenv:\n  parameter-store:\n    DB_PASSWORD: /shop/db/password\nphases:\n  build:\n    commands:\n      - echo \"password is $DB_PASSWORD\"\n      - test \"$DB_PASSWORD\" = db-password-6c1f9e2a\n",
            ),
        ],
    );
    // Whatever the user's shell has set must not leak another profile in.
    let out = c
        .cmd()
        .args(["run", "shop/release", "--wait", "--json"])
        .env("AWS_PROFILE", "staging")
        .env("AWS_ACCESS_KEY_ID", "AKIASHELLKEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = e["id"].as_str().unwrap();
    let log = c.ok(&["logs", id, "--action", "who"]);
    let names = log
        .lines()
        .find(|l| l.starts_with("AWS_"))
        .expect("the env listing");
    let names: Vec<&str> = names
        .split_whitespace()
        // Endpoint and CA settings of the user's shell are configuration,
        // not credentials: they pass through.
        .filter(|n| !n.starts_with("AWS_ENDPOINT_URL") && *n != "AWS_CA_BUNDLE")
        .collect();
    assert_eq!(
        names,
        [
            "AWS_ACCESS_KEY_ID",
            "AWS_DEFAULT_REGION",
            "AWS_REGION",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN"
        ],
        "the session's five variables, no AWS_PROFILE: {log}"
    );
    assert!(!log.contains("AKIASHELLKEY"), "{log}");
    assert!(
        log.contains("key=*** secret=*** region=eu-central-1"),
        "{log}"
    );
    let log = c.ok(&["logs", id, "--action", "build"]);
    assert!(log.contains("password is ***"), "{log}");
    assert!(!log.contains(LOCAL_SECRET));
}

#[test]
fn a_command_deployment_runs_with_its_accounts_session_and_masks_it() {
    let c = Creds::new();
    c.chain();
    c.world.repo(
        "shop",
        &[(
            ".slipway/release.yml",
            "version: 1\nenvironments:\n  prod:\n    provider: command\n    account: prod\n    region: eu-west-1\n    deploy:\n      - aws sts get-caller-identity --query Account --output text\n      - echo \"deploying with key=$AWS_ACCESS_KEY_ID in $AWS_REGION\"\n    verify: ['test -n \"$AWS_SESSION_TOKEN\"']\nstages:\n  - name: Release\n    actions:\n      - { name: deploy, type: deploy, environment: prod }\n",
        )],
    );
    let aws_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin");
    let path = format!(
        "{}:{}",
        aws_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = c
        .cmd()
        .args(["run", "shop/release", "--wait", "--json"])
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let history = c.json(&["deployments", "prod", "--json"]);
    assert_eq!(history[0]["status"], "Succeeded");
    assert_eq!(history[0]["provider"], "command");
    let log = std::fs::read_to_string(history[0]["log"].as_str().unwrap()).unwrap();
    // The real AWS CLI acted in the profile's account (the chain's last role).
    assert!(log.contains("222222222222"), "{log}");
    assert!(log.contains("deploying with key=*** in eu-west-1"), "{log}");
}
