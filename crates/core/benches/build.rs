//! Build runner benchmarks, as scripted scenarios measured side by side in
//! one run (BENCHMARKS.md, "Build runner"):
//!
//! 1. Log capture: a build printing 1 GiB in 100-byte lines, against the
//!    same producer piped through `cat` into a file; throughput ratio and
//!    this process's peak RSS (VmHWM) after the build.
//! 2. Per-command overhead: 100 `true` commands in one 0.2 build, against
//!    `bash -c true` started 100 times.
//!
//! Run: `cargo bench -p slipway-core --bench build` (add `-- --quick` for a
//! 128 MiB log). Needs bash, yes, head, cat on PATH.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use slipway_core::build::{self, BuildJob, BuildStatus, StopSignal};
use slipway_core::spec::buildspec;

const LINE: &str = "slipway-benchmark-line-of-output-that-is-exactly-one-hundred-bytes-long-including-its-newline-xxxxx";

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let bytes: u64 = if quick { 128 << 20 } else { 1 << 30 };
    assert_eq!(LINE.len(), 99);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hwm_start = vm_hwm_kib();
    println!("## log capture ({} MiB in 100-byte lines)", bytes >> 20);
    let producer = format!("yes {LINE} | head -c {bytes}");

    // Three rounds, alternating, medians reported: the machine is shared
    // and single runs are noisy.
    let shell_to_file = |cmd: String| {
        let out = dir.path().join("baseline.out");
        let started = Instant::now();
        let status = Command::new("bash")
            .arg("-c")
            .arg(format!("{cmd} > '{}'", out.display()))
            .status()
            .unwrap();
        assert!(status.success());
        let elapsed = started.elapsed();
        assert_eq!(std::fs::metadata(&out).unwrap().len(), bytes);
        std::fs::remove_file(&out).unwrap();
        elapsed
    };
    let yaml = format!("version: 0.2\nphases:\n  build:\n    commands:\n      - {producer}\n");
    let log = dir.path().join("build.log");
    let mut direct = Vec::new();
    let mut cat = Vec::new();
    let mut runner = Vec::new();
    let mut published = 0u64;
    let mut batches = 0u64;
    for _ in 0..3 {
        // Upper bound: the producer writing the file itself.
        direct.push(shell_to_file(producer.clone()));
        // The baseline: the same bytes `cat`-ed to a file.
        cat.push(shell_to_file(format!("{producer} | cat")));
        // The runner: one build whose only command is the producer, with a
        // sink that receives every batch (as the engine's event bus would).
        let (elapsed, p, b) = rt.block_on(async {
            let job = job(&yaml, dir.path(), &log);
            let (mut p, mut b) = (0u64, 0u64);
            let started = Instant::now();
            let outcome = build::run(job, StopSignal::never(), |batch: &[u8]| {
                p += batch.len() as u64;
                b += 1;
            })
            .await;
            assert_eq!(outcome.status, BuildStatus::Succeeded);
            (started.elapsed(), p, b)
        });
        let log_size = std::fs::metadata(&log).unwrap().len();
        assert!(
            log_size > bytes && log_size < bytes + 4096,
            "log size {log_size}"
        );
        std::fs::remove_file(&log).unwrap();
        runner.push(elapsed);
        (published, batches) = (p, b);
    }
    let hwm_end = vm_hwm_kib();
    let (direct, cat, runner) = (mid(direct), mid(cat), mid(runner));
    let mib = bytes as f64 / (1 << 20) as f64;
    let rate = |d: Duration| mib / d.as_secs_f64();
    println!(
        "producer > file:       {:>7.3} s  {:>6.0} MiB/s",
        direct.as_secs_f64(),
        rate(direct)
    );
    println!(
        "producer | cat > file: {:>7.3} s  {:>6.0} MiB/s",
        cat.as_secs_f64(),
        rate(cat)
    );
    println!(
        "slipway build:         {:>7.3} s  {:>6.0} MiB/s  ({batches} batches, {} MiB published)",
        runner.as_secs_f64(),
        rate(runner),
        published >> 20
    );
    println!(
        "throughput ratio: {:.0}% of cat, {:.0}% of the producer writing the file itself",
        100.0 * cat.as_secs_f64() / runner.as_secs_f64(),
        100.0 * direct.as_secs_f64() / runner.as_secs_f64()
    );
    println!("peak RSS of this process (VmHWM): {hwm_start} KiB before, {hwm_end} KiB after three builds");

    println!("\n## per-command overhead (100 x `true`)");
    let started = Instant::now();
    for _ in 0..100 {
        assert!(Command::new("bash")
            .arg("-c")
            .arg("true")
            .status()
            .unwrap()
            .success());
    }
    let bash = started.elapsed();
    let run_n = |n: usize| {
        let mut yaml = String::from("version: 0.2\nphases:\n  build:\n    commands:\n");
        for _ in 0..n {
            yaml.push_str("      - \"true\"\n");
        }
        let log = dir.path().join(format!("overhead-{n}.log"));
        rt.block_on(async {
            let job = job(&yaml, dir.path(), &log);
            let started = Instant::now();
            let outcome = build::run(job, StopSignal::never(), build::NoSink).await;
            assert_eq!(outcome.status, BuildStatus::Succeeded);
            started.elapsed()
        })
    };
    let one = median(|| run_n(1));
    let hundred = median(|| run_n(100));
    let per_command = (hundred.saturating_sub(one)).as_secs_f64() / 99.0;
    println!(
        "bash -c true x100:           {:>8.1} ms ({:.2} ms each)",
        ms(bash),
        ms(bash) / 100.0
    );
    println!(
        "runner, build of 1 command:  {:>8.1} ms (fixed cost of a build)",
        ms(one)
    );
    println!("runner, build of 100:        {:>8.1} ms", ms(hundred));
    println!(
        "runner per command:          {:>8.3} ms",
        per_command * 1000.0
    );
    println!(
        "ratio (runner 100 / bash 100): {:.2}x",
        hundred.as_secs_f64() / bash.as_secs_f64()
    );
}

fn job(yaml: &str, dir: &Path, log: &Path) -> BuildJob {
    let spec = buildspec::parse(yaml, "buildspec.yml").unwrap();
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut job = BuildJob::new(spec, src, dir.join("data"), log.to_path_buf());
    job.context.build_id = "bench:1".into();
    job
}

fn median(mut f: impl FnMut() -> Duration) -> Duration {
    mid((0..5).map(|_| f()).collect())
}

fn mid(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
