//! Fixtures for the credentials tests: a real moto STS server (from the
//! project's `.venv`, installed by `make test`), a store in a temp data
//! directory, a clock the test moves, and a check that the Secret Service
//! keychain from `tests/with-keyring.sh` is there.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use slipway_core::api::{Clock, Millis, SystemClock};
use slipway_core::store::Store;

/// Fails with what to do when the test keychain is not running.
pub fn require_keyring() {
    assert!(
        std::env::var("SLIPWAY_TEST_KEYRING").as_deref() == Ok("1"),
        "the credentials tests need a Secret Service keychain: run them as \
         `tests/with-keyring.sh cargo test …` (make test does)"
    );
}

/// The moto server shared by this test binary, and `AWS_ENDPOINT_URL_STS`
/// pointing at it. Started from a thread that never ends, with
/// PR_SET_PDEATHSIG, so it dies with the test process.
pub fn moto() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
        assert!(
            bin.exists(),
            "{} is missing: run `make test` once (it installs moto into .venv)",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::os::unix::process::CommandExt;
            let mut cmd = Command::new(bin);
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: prctl is async-signal-safe.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = cmd.spawn().expect("start moto_server");
            tx.send(()).unwrap();
            let _keep = child;
            loop {
                std::thread::park();
            }
        });
        rx.recv().unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        std::env::set_var("AWS_ENDPOINT_URL_STS", &url);
        url
    })
}

/// moto's record of the roles assumed so far (`/moto-api/data.json`).
pub fn assumed_roles() -> Vec<serde_json::Value> {
    let url = moto();
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /moto-api/data.json HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    let json = &body[body.find("\r\n\r\n").unwrap() + 4..];
    let v: serde_json::Value = serde_json::from_str(json).expect("moto data.json");
    v["sts"]["AssumedRole"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// AssumeRole calls moto received for `role_arn`.
pub fn assume_role_calls(role_arn: &str) -> Vec<serde_json::Value> {
    assumed_roles()
        .into_iter()
        .filter(|r| r["role_arn"] == role_arn)
        .collect()
}

/// A unique 12-digit account id per call, so parallel tests count only
/// their own roles.
pub fn account() -> String {
    static NEXT: AtomicI64 = AtomicI64::new(0);
    let pid = i64::from(std::process::id()) % 10_000;
    format!(
        "{:04}{:08}",
        pid,
        NEXT.fetch_add(1, Ordering::SeqCst) + SystemClock.now() % 1_000_000 * 100
    )
}

pub struct Data {
    pub dir: tempfile::TempDir,
    pub store: Store,
}

impl Data {
    pub fn new() -> Data {
        require_keyring();
        moto();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("slipway.db")).unwrap();
        Data { dir, store }
    }
}

/// A clock the test moves; starts at the real time, since moto's sessions
/// expire in real time.
pub struct TestClock(AtomicI64);

impl TestClock {
    pub fn new() -> TestClock {
        TestClock(AtomicI64::new(SystemClock.now()))
    }

    pub fn set(&self, ms: Millis) {
        self.0.store(ms, Ordering::SeqCst);
    }

    pub fn advance(&self, ms: Millis) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}
