//! Fixtures for the build runner's tests: a temp workspace with a source
//! directory, a data directory and a log file, and a buildspec from a string.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use slipway_core::build::{self, BuildContext, BuildJob, BuildOutcome, NoSink, StopSignal};
use slipway_core::spec::buildspec;

pub struct Workspace {
    _dir: tempfile::TempDir,
    pub src: PathBuf,
    pub data: PathBuf,
    pub log: PathBuf,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&src).unwrap();
        let log = dir.path().join("logs").join("build.log");
        Workspace {
            _dir: dir,
            src,
            data,
            log,
        }
    }

    /// A job for `yaml`, as the engine would make it.
    pub fn job(&self, yaml: &str) -> BuildJob {
        let spec = buildspec::parse(yaml, "buildspec.yml")
            .unwrap_or_else(|e| panic!("test buildspec does not parse: {e:?}"));
        let mut job = BuildJob::new(spec, self.src.clone(), self.data.clone(), self.log.clone());
        job.context = BuildContext {
            build_id: "demo:1234".into(),
            build_number: 7,
            resolved_source_version: "0123abcd".into(),
            initiator: "codepipeline/demo".into(),
            start_time_ms: 1_795_762_800_000,
            ..BuildContext::default()
        };
        job.kill_grace = std::time::Duration::from_millis(300);
        job.cache_scope = "demo".into();
        job
    }

    pub fn write(&self, rel: &str, content: &str) {
        let path = self.src.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// The build's own output: the log without the runner's lines.
    pub fn output_lines(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|l| !l.starts_with("[Container]"))
            .map(str::to_string)
            .collect()
    }
}

pub async fn run(job: BuildJob) -> BuildOutcome {
    build::run(job, StopSignal::never(), NoSink).await
}

pub fn exists_and_runs(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // A zombie has exited; it only waits for PID 1 to reap it.
        Ok(stat) => !stat.contains(") Z ") && !stat.contains(") X "),
        Err(_) => false,
    }
}

pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
