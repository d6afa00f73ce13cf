//! The `slipway` binary as a user runs it: flags, exit codes, data directory,
//! and `slipway serve`'s token and origin checks over real HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

fn slipway() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slipway"));
    cmd.env_remove("SLIPWAY_HOME");
    cmd
}

#[test]
fn version_flag_prints_the_version() {
    let out = slipway().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("slipway {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn status_json_reports_the_data_dir_from_the_flag_or_slipway_home() {
    let dir = tempfile::tempdir().unwrap();
    let from_flag = dir.path().join("flag");
    let out = slipway()
        .args(["status", "--json", "--data-dir"])
        .arg(&from_flag)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["data_dir"], from_flag.display().to_string());
    assert_eq!(status["host"], "cli");
    assert!(from_flag.is_dir(), "status creates the data directory");

    let from_env = dir.path().join("env");
    let out = slipway()
        .args(["status", "--json"])
        .env("SLIPWAY_HOME", &from_env)
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["data_dir"], from_env.display().to_string());
}

#[test]
fn bad_usage_exits_2_and_says_so_on_stderr() {
    let out = slipway().args(["status", "--jsn"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--jsn"));
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unusable_data_dir_fails_with_exit_1_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let out = slipway()
        .args(["status", "--data-dir"])
        .arg(file.join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("a-file"), "{stderr}");
}

struct Serve {
    child: Child,
    port: u16,
    token: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_serve(data_dir: &std::path::Path) -> Serve {
    let mut child = slipway()
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let rest = line
        .trim()
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("first line is the URL: {line:?}"));
    let (port, token) = rest.split_once("/#token=").unwrap();
    Serve {
        child,
        port: port.parse().unwrap(),
        token: token.to_string(),
    }
}

/// One HTTP/1.1 request; returns (status, body).
fn http(port: u16, request_line: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!(
        "{request_line} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_string();
    (status, body)
}

#[test]
fn serve_requires_its_token_and_refuses_foreign_origins() {
    let dir = tempfile::tempdir().unwrap();
    let serve = start_serve(dir.path());
    assert_eq!(serve.token.len(), 64);
    let bearer = format!("Bearer {}", serve.token);

    let (status, body) = http(serve.port, "POST /api/status", &[], "{}");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"unauthorized\""), "{body}");

    let (status, _) = http(
        serve.port,
        "POST /api/status",
        &[("Authorization", "Bearer nope")],
        "",
    );
    assert_eq!(status, 401);

    let (status, body) = http(
        serve.port,
        "POST /api/status",
        &[
            ("Authorization", &bearer),
            ("Origin", "https://attacker.example"),
        ],
        "",
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("forbidden_origin"), "{body}");

    let (status, body) = http(
        serve.port,
        "POST /api/status",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(status, 200, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["host"], "serve");
    assert_eq!(status["data_dir"], dir.path().display().to_string());
}

#[test]
fn serve_refuses_a_second_server_on_a_busy_port_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_serve(dir.path());
    let out = slipway()
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{}", first.port),
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    assert!(stderr.contains("--addr 127.0.0.1:0"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = start_serve(dir.path());
    let pid = serve.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = serve.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

fn git_init(path: &std::path::Path) {
    let ok = Command::new("git")
        .args(["init", "-q"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "git init");
}

#[test]
fn repositories_are_added_untrusted_then_trusted_listed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let work = dir.path().join("shop-api");
    git_init(&work);
    let run = |args: &[&str]| {
        slipway()
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap()
    };

    let out = run(&["repo", "add", work.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("slipway repo trust shop-api"), "{text}");

    let out = run(&["repo", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["repositories"][0]["name"], "shop-api");
    assert_eq!(list["repositories"][0]["trusted"], false);
    assert_eq!(list["repositories"][0]["missing"], false);

    let out = run(&["repo", "trust", "shop-api", "--json"]);
    let repo: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(repo["trusted"], true);

    // Adding it again under another name is refused, and says under which.
    let out = run(&["repo", "add", work.to_str().unwrap(), "--name", "dup"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already added as `shop-api`"));

    // A moved-away work tree shows as missing rather than failing the list.
    std::fs::rename(&work, dir.path().join("moved")).unwrap();
    let out = run(&["repo", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("MISSING"));

    let out = run(&["repo", "remove", "shop-api"]);
    assert!(out.status.success());
    let out = run(&["repo", "remove", "shop-api"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no repository named `shop-api`"));
}

#[test]
fn adding_a_folder_that_is_not_a_repository_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = slipway()
        .args(["repo", "add"])
        .arg(dir.path())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a git repository"));
}
