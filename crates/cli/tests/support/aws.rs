//! AWS environments' end-to-end fixtures: a moto server standing in for
//! AWS (reached by the real SDK clients through `AWS_ENDPOINT_URL`; the
//! CloudWatch calls through [`CborBridge`], since moto does not speak the
//! CBOR protocol the Rust SDK's CloudWatch client sends), the real AWS CLI
//! from `.venv` to create and inspect resources in it, a credential profile
//! `prod` whose keys are in the real keychain (`tests/with-keyring.sh`),
//! and a repository whose pipeline `.slipway/rel.yml` builds an artifact
//! and deploys it to one environment, hosted by a real `slipway watch`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command};

use super::cbor_bridge::CborBridge;
use super::{require_keyring, run_with_stdin, Moto, Repo, World};

/// The region every AWS test works in (not the profile's own region:
/// the environment's `region:` must win).
pub const REGION: &str = "eu-west-1";
/// The profile `prod`'s long-term keys (the secret lives in the keychain).
pub const LONG_TERM_KEY_ID: &str = "AKIAEXAMPLEAWSTEST";
pub const LONG_TERM_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzAWSTESTKEY";

/// Moto, its CloudWatch bridge, and a world whose every `slipway` process
/// (the engine among them) reaches them, with the profile `prod`.
pub struct Aws {
    pub moto: Moto,
    pub bridge: CborBridge,
    pub world: World,
}

impl Aws {
    pub fn start() -> Aws {
        require_keyring();
        let moto = Moto::start();
        let bridge = CborBridge::start(&moto.url);
        // moto answers Lambda invokes without Docker this way; it runs no
        // function code either way.
        post_json(
            &moto.url,
            "/moto-api/config",
            r#"{"lambda": {"use_docker": false}}"#,
        );
        let world = World::with_env(&[
            ("AWS_ENDPOINT_URL", &moto.url),
            ("AWS_ENDPOINT_URL_CLOUDWATCH", &bridge.url),
        ]);
        let out = run_with_stdin(
            world.slipway(),
            &[
                "creds",
                "add",
                "prod",
                "--access-key-id",
                LONG_TERM_KEY_ID,
                "--region",
                "us-east-1",
            ],
            &format!("{LONG_TERM_SECRET}\n"),
        );
        assert!(
            out.status.success(),
            "creds add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Aws {
            moto,
            bridge,
            world,
        }
    }

    /// `aws SERVICE ARGS… --output json` against moto in [`REGION`]; its
    /// JSON answer (`null` when it printed nothing). Panics on failure.
    pub fn cli(&self, service: &str, args: &[&str]) -> serde_json::Value {
        let out = self.cli_output(service, args);
        assert!(
            out.status.success(),
            "aws {service} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        if text.trim().is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("aws {service} {args:?}: {e}: {text}"))
    }

    /// The AWS CLI's output, success or not.
    pub fn cli_output(&self, service: &str, args: &[&str]) -> std::process::Output {
        let aws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/aws");
        Command::new(aws)
            .args([
                "--endpoint-url",
                &self.moto.url,
                "--region",
                REGION,
                "--output",
                "json",
            ])
            .arg(service)
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap()
    }

    /// A repository `shop` with `.slipway/rel.yml` = `pipeline` and
    /// `files`, added and trusted, and a `slipway watch` engine hosting it.
    pub fn project(self, pipeline: &str, files: &[(&str, &str)]) -> Project {
        let mut all = vec![(".slipway/rel.yml", pipeline)];
        all.extend_from_slice(files);
        let repo = self.world.repo("shop", &all);
        let mut project = Project {
            aws: self,
            repo,
            engine: None,
            _lines: None,
        };
        project.start_engine();
        project
    }
}

/// A pipeline `rel`: a build action that packages `base` of the repository
/// (its buildspec's build commands first), then one deploy action to the
/// environment `name` whose definition (indented under its name) is
/// `environment`.
pub fn pipeline(name: &str, environment: &str, base: &str, build: &[&str]) -> String {
    let commands = build
        .iter()
        .map(|c| format!("{c:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"version: 1
name: rel
environments:
  {name}:
{environment}
stages:
  - name: Build
    actions:
      - name: package
        type: build
        outputs: [out]
        buildspec:
          version: 0.2
          phases:
            build:
              commands: [{commands}]
          artifacts:
            base-directory: {base}
            files: ["**/*"]
  - name: Deploy
    actions:
      - {{ name: deploy, type: deploy, environment: {name}, inputs: [out] }}
"#
    )
}

pub struct Project {
    pub aws: Aws,
    pub repo: Repo,
    pub engine: Option<Child>,
    _lines: Option<std::sync::mpsc::Receiver<String>>,
}

impl Project {
    pub fn world(&self) -> &World {
        &self.aws.world
    }

    fn start_engine(&mut self) {
        let (child, lines) = super::start_watch(&self.aws.world);
        self.engine = Some(child);
        self._lines = Some(lines);
    }

    /// Commits `files` and runs the pipeline to its end through the
    /// hosting engine; returns whether it succeeded (and prints why not).
    pub fn release(&self, message: &str, files: &[(&str, &str)]) -> bool {
        self.repo.commit(files, message);
        let out = self.world().run(&["run", "shop/rel", "--wait"]);
        if !out.status.success() {
            eprintln!(
                "the `{message}` run failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out.status.success()
    }

    /// Starts a run of the pipeline without waiting for it.
    pub fn start_release(&self, message: &str, files: &[(&str, &str)]) {
        self.repo.commit(files, message);
        let out = self.world().run(&["run", "shop/rel"]);
        assert!(
            out.status.success(),
            "run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `slipway deployments ENV --json`: the history (newest first) and
    /// what the environment serves now.
    pub fn history(&self, environment: &str) -> serde_json::Value {
        self.world().json(&["deployments", environment, "--json"])
    }

    /// Starts a run of the pipeline in the background (`run --wait`),
    /// after committing `files`.
    pub fn start_run(&self, message: &str, files: &[(&str, &str)]) -> Child {
        self.repo.commit(files, message);
        self.world().spawn(&["run", "shop/rel", "--wait"])
    }

    /// The STS session of `prod` as `creds process` hands it out: its key
    /// id and secret (for asserting where they must not be).
    pub fn session(&self) -> (String, String) {
        let s = self.world().json(&["creds", "process", "prod"]);
        (
            s["AccessKeyId"].as_str().unwrap().to_string(),
            s["SecretAccessKey"].as_str().unwrap().to_string(),
        )
    }

    /// None of `secrets` is in `outputs` nor in any file of the data
    /// directory (database, logs, artifacts).
    pub fn assert_secrets_absent(&self, secrets: &[&str], outputs: &[String]) {
        for secret in secrets {
            assert!(!secret.is_empty());
            for text in outputs {
                assert!(!text.contains(secret), "a secret in an output: {text}");
            }
            let mut dirs = vec![self.world().data()];
            let mut read = 0;
            while let Some(dir) = dirs.pop() {
                for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        dirs.push(path);
                    } else if let Ok(bytes) = std::fs::read(&path) {
                        read += 1;
                        let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
                        assert!(!found, "a secret in {}", path.display());
                    }
                }
            }
            assert!(read > 0, "the data directory has files to search");
        }
    }

    /// `slipway deployment ID --json`.
    pub fn deployment(&self, id: &str) -> serde_json::Value {
        self.world().json(&["deployment", id, "--json"])
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if let Some(mut child) = self.engine.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits for a background run; its output.
pub fn finish(child: Child) -> std::process::Output {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "the run did not end");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// A command's stdout and stderr, as one text.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `(label, value)` of a serving's facts, in order.
pub fn facts(serving: &serde_json::Value) -> Vec<(String, String)> {
    serving["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["label"].as_str().unwrap().to_string(),
                f["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `slipway serve` beside the project's engine, for what the Environments
/// page reads (`serving`) over the HTTP API the browser uses.
pub struct Serve {
    child: Child,
    port: u16,
    token: String,
}

impl Serve {
    pub fn start(p: &Project) -> Serve {
        let mut child = p
            .world()
            .slipway()
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let rest = line
            .trim()
            .strip_prefix("http://127.0.0.1:")
            .unwrap_or_else(|| panic!("the first line is the URL: {line:?}"));
        let (port, token) = rest.split_once("/#token=").unwrap();
        Serve {
            child,
            port: port.parse().unwrap(),
            token: token.to_string(),
        }
    }

    /// What `environment` serves, as the account says (`deployments`'
    /// `serving`).
    pub fn serving(&self, environment: &str) -> serde_json::Value {
        let body = serde_json::json!({ "environment": environment }).to_string();
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "POST /api/deployments HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            self.token,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{response}");
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        value["serving"].clone()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs `body` (JSON) to `url` + `path`; panics unless it answers 2xx.
pub fn post_json(url: &str, path: &str, body: &str) {
    let addr = url.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).unwrap_or("");
    assert!(status.starts_with('2'), "POST {path}: {answer}");
}
