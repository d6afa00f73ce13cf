//! The demo: a small web service in a git repository under the data
//! directory, with a `buildspec.yml`, a test buildspec with a JUnit report,
//! an `appspec.yml` and a pipeline Build → Test → Staging (local, 2
//! instances, blue/green) → Approval → Production (local, 3 instances,
//! canary 20% for 1 minute). It needs nothing but `python3` and `sh`.

use std::path::{Path, PathBuf};

use crate::clock::Millis;
use crate::repos::{self, RepoError};
use crate::store::Store;

/// The demo repository's name in Slipway.
pub const NAME: &str = "demo-shop";

/// Where the two environments listen unless told otherwise.
pub const STAGING_PORT: u16 = 18080;
pub const PRODUCTION_PORT: u16 = 18081;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo repository already exists at {0}; remove it from Slipway (`slipway repo remove {NAME}`) and delete the folder to start over")]
    Exists(PathBuf),
    #[error("cannot write the demo repository at {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("{0}")]
    Port(String),
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl DemoError {
    /// The stable code this error crosses boundaries with.
    pub fn code(&self) -> crate::model::ErrorCode {
        use crate::model::ErrorCode;
        match self {
            DemoError::Exists(_) => ErrorCode::AlreadyExists,
            DemoError::Port(_) => ErrorCode::InvalidInput,
            DemoError::Write { .. } | DemoError::Repo(_) => ErrorCode::Io,
        }
    }
}

const SERVER: &str = r#"# The demo shop: answers its version on /, and 200 on /healthz.
import http.server, os

VERSION = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "VERSION")).read().strip()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):
        if self.path == "/healthz":
            body = b"ok\n"
            kind = "text/plain"
        else:
            body = ("<!doctype html><title>Demo shop</title>"
                    "<h1>Demo shop</h1><p>version <b id=version>%s</b></p>\n" % VERSION).encode()
            kind = "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"#;

const TEST: &str = r#"# The demo's tests, reported as JUnit XML like any CI would.
import os, sys
os.makedirs("reports", exist_ok=True)
checks = {
    "server compiles": lambda: compile(open("server.py").read(), "server.py", "exec"),
    "version file is set": lambda: open("VERSION").read().strip() or sys.exit("empty VERSION"),
}
failures = 0
cases = []
for name, check in checks.items():
    try:
        check()
        cases.append('<testcase classname="shop" name="%s"/>' % name)
    except BaseException as e:
        failures += 1
        cases.append('<testcase classname="shop" name="%s"><failure message="%s"/></testcase>' % (name, e))
with open("reports/junit.xml", "w") as f:
    f.write('<testsuite name="shop" tests="%d" failures="%d">%s</testsuite>' % (len(cases), failures, "".join(cases)))
print("%d checks, %d failed" % (len(cases), failures))
sys.exit(1 if failures else 0)
"#;

const BUILDSPEC: &str = r#"version: 0.2
env:
  exported-variables:
    - VERSION
phases:
  build:
    commands:
      - export VERSION="1.0.$(date +%s)-$(echo $CODEBUILD_RESOLVED_SOURCE_VERSION | cut -c1-7)"
      - echo "$VERSION" > VERSION
      - python3 -m py_compile server.py
      - echo "built shop $VERSION"
artifacts:
  files:
    - server.py
    - VERSION
    - appspec.yml
    - scripts/*
    - test_shop.py
"#;

const BUILDSPEC_TEST: &str = r#"version: 0.2
phases:
  build:
    commands:
      - python3 test_shop.py
reports:
  shop-tests:
    files:
      - reports/junit.xml
    file-format: JUNITXML
"#;

const APPSPEC: &str = r#"version: 0.0
os: linux
files:
  - source: /
    destination: /srv/shop
hooks:
  ValidateService:
    - location: scripts/validate.sh
      timeout: 30
"#;

const VALIDATE: &str = r#"#!/bin/sh
# CodeDeploy's ValidateService hook: the installed files are in place.
test -s "$SLIPWAY_INSTALL_ROOT/srv/shop/VERSION" || test -s VERSION
echo "$LIFECYCLE_EVENT ok for $DEPLOYMENT_GROUP_NAME ($DEPLOYMENT_ID)"
"#;

fn pipeline(staging: u16, production: u16) -> String {
    format!(
        r#"# The demo release pipeline: commit to main and watch it go.
version: 1
name: release
triggers:
  - push:
      branches: [main]

environments:
  staging:
    provider: local
    instances: 2
    listen: 127.0.0.1:{staging}
    run: "exec python3 -u server.py"
    health:
      http: /healthz
      interval: 1s
      healthy-threshold: 1
    strategy: blue-green
    termination-wait: 10m
  production:
    provider: local
    instances: 3
    listen: 127.0.0.1:{production}
    run: "exec python3 -u server.py"
    health:
      http: /healthz
      interval: 1s
      healthy-threshold: 1
    strategy: {{ type: canary, percent: 20, interval: 1m }}
    termination-wait: 10m
    alarms:
      - error-rate: {{ above: 5%, window: 30s }}

stages:
  - name: Build
    actions:
      - name: build
        type: build
        buildspec: buildspec.yml
        namespace: Build
        outputs: [app]
  - name: Test
    actions:
      - name: unit
        type: test
        buildspec: buildspec-test.yml
        inputs: [app]
  - name: Staging
    actions:
      - {{ name: deploy, type: deploy, environment: staging, inputs: [app] }}
  - name: Approval
    actions:
      - name: release-manager
        type: approval
        message: "Promote #{{Build.VERSION}} to production?"
  - name: Production
    on-failure: rollback
    actions:
      - {{ name: deploy, type: deploy, environment: production, inputs: [app] }}
"#
    )
}

/// The demo's two router ports: different, and free on 127.0.0.1 now.
fn ports_free((staging, production): (u16, u16)) -> Result<(), DemoError> {
    if staging == production {
        return Err(DemoError::Port(format!(
            "staging and production need two different ports (both are {staging})"
        )));
    }
    for (port, env) in [(staging, "staging"), (production, "production")] {
        if port == 0 {
            return Err(DemoError::Port(format!(
                "the {env} port must be from 1 to 65535"
            )));
        }
        if let Err(e) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            return Err(DemoError::Port(format!("port {port} for the demo's {env} is not free on 127.0.0.1 ({e}); choose another {env} port")));
        }
    }
    Ok(())
}

/// Creates the demo repository at `<data_dir>/demo/shop` with one commit,
/// adds it to Slipway and trusts it (its code is ours). `ports` are the
/// staging and production routers' ports.
pub fn create(
    store: &Store,
    data_dir: &Path,
    ports: (u16, u16),
    now: Millis,
) -> Result<crate::repos::RepositoryInfo, DemoError> {
    let dir = data_dir.join("demo").join("shop");
    if dir.exists() {
        // An existing demo reports itself: its own routers may hold the ports.
        return Err(DemoError::Exists(dir));
    }
    // Say now, where the demo is offered, that a port cannot be had,
    // rather than at its first deployment.
    ports_free(ports)?;
    let write_err = |path: &Path, e: &dyn std::fmt::Display| DemoError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let files: [(&str, String); 7] = [
        (".slipway/release.yml", pipeline(ports.0, ports.1)),
        ("server.py", SERVER.into()),
        ("test_shop.py", TEST.into()),
        ("buildspec.yml", BUILDSPEC.into()),
        ("buildspec-test.yml", BUILDSPEC_TEST.into()),
        ("appspec.yml", APPSPEC.into()),
        ("scripts/validate.sh", VALIDATE.into()),
    ];
    for (name, text) in &files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| write_err(parent, &e))?;
        }
        std::fs::write(&path, text).map_err(|e| write_err(&path, &e))?;
    }
    let script = dir.join("scripts/validate.sh");
    crate::platform::fs::set_mode(&script, 0o755).map_err(|e| write_err(&script, &e))?;
    commit_all(&dir, "The demo shop").map_err(|e| write_err(&dir, &e))?;
    let added = repos::add(store, &dir, Some(NAME), true, now)?;
    Ok(added)
}

/// `git init` (branch main) and one commit of everything in `dir`.
fn commit_all(dir: &Path, message: &str) -> Result<(), git2::Error> {
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = git2::Repository::init_opts(dir, &opts)?;
    let mut index = repo.index()?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let sig = repo
        .signature()
        .or_else(|_| git2::Signature::now("Slipway demo", "demo@slipway.invalid"))?;
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &[])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_is_a_valid_trusted_repository_with_a_valid_pipeline() {
        let data = tempfile::tempdir().unwrap();
        let store = Store::open(&data.path().join("db")).unwrap();
        let repo = create(&store, data.path(), (1, 2), 0).unwrap();
        assert_eq!(repo.name, NAME);
        assert!(repo.trusted);
        let dir = data.path().join("demo/shop");
        let text = std::fs::read_to_string(dir.join(".slipway/release.yml")).unwrap();
        let pipeline = crate::spec::pipeline::parse(&text, "release.yml").unwrap();
        assert_eq!(pipeline.stages.len(), 5);
        for file in ["buildspec.yml", "buildspec-test.yml"] {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            crate::spec::buildspec::parse(&text, file).unwrap();
        }
        let text = std::fs::read_to_string(dir.join("appspec.yml")).unwrap();
        crate::spec::appspec::parse(&text, "appspec.yml").unwrap();
        let again = create(&store, data.path(), (1, 2), 0).unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");
    }
}
