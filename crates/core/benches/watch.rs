//! The watcher's benchmarks (see BENCHMARKS.md, "Watch and triggers", for
//! the figures and the command). They print what they measure; the goals
//! are judged in BENCHMARKS.md, not asserted here, because the machines that
//! run the tests are shared and noisy:
//!
//! - trigger latency: a ref update → the execution recorded `InProgress`,
//!   over 50 commits, p50 and p99, next to the raw notify latency of the
//!   same ref write (a second, bare notify watcher on the same folder);
//! - idle cost with 200 watched repositories: time to open the watches,
//!   CPU seconds over an idle window (`SLIPWAY_BENCH_IDLE_SECS`, default 10;
//!   the figure in BENCHMARKS.md uses 60) and resident memory.
//!
//! Both measure this whole process, so they never run at the same time.

#[path = "../tests/watch_support/mod.rs"]
mod watch_support;

use std::path::Path;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher as _};
use slipway_core::api::Event;
use slipway_core::engine::Status;
use watch_support::{pipeline, World};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Commits `n` on top of main with git2 without moving main; returns it.
fn prepare_commit(repo: &git2::Repository, n: usize) -> git2::Oid {
    let parent = repo.head().unwrap().peel_to_commit().unwrap();
    let mut index = git2::Index::new().unwrap();
    index.read_tree(&parent.tree().unwrap()).unwrap();
    let blob = repo.blob(n.to_string().as_bytes()).unwrap();
    index
        .add(&git2::IndexEntry {
            ctime: git2::IndexTime::new(0, 0),
            mtime: git2::IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode: 0o100644,
            uid: 0,
            gid: 0,
            file_size: 0,
            id: blob,
            flags: 1,
            flags_extended: 0,
            path: b"n".to_vec(),
        })
        .unwrap();
    let tree = repo.find_tree(index.write_tree_to(repo).unwrap()).unwrap();
    let sig = git2::Signature::now("Bench", "bench@example.com").unwrap();
    repo.commit(None, &sig, &sig, &format!("commit {n}"), &tree, &[&parent])
        .unwrap()
}

async fn trigger_latency_over_50_commits() {
    let mut world = World::new();
    let file = pipeline(
        "  - push:\n      branches: [main]\n",
        "execution-mode: parallel\n",
        "true",
    );
    let git = world.repo("shop", &[(".slipway/web.yml", &file)]);
    world.watch().await;
    let repo = git2::Repository::open(&git.path).unwrap();

    // The baseline: a bare notify watcher on the same folder, timing the
    // first event of each ref write.
    let (raw_tx, raw_rx) = std::sync::mpsc::channel::<Instant>();
    let mut raw = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
        if e.is_ok() {
            let _ = raw_tx.send(Instant::now());
        }
    })
    .unwrap();
    raw.watch(&git.path.join(".git/refs/heads"), RecursiveMode::Recursive)
        .unwrap();

    let mut events = world.events.subscribe();
    let (mut latency, mut baseline) = (Vec::new(), Vec::new());
    for n in 0..50 {
        let commit = prepare_commit(&repo, n).to_string();
        while raw_rx.try_recv().is_ok() {}
        let written = Instant::now();
        repo.reference("refs/heads/main", commit.parse().unwrap(), true, "bench")
            .unwrap();
        let recorded = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Ok(Event::Execution(e)) = events.recv().await {
                    if e.revision == commit && e.status == Status::InProgress {
                        return Instant::now();
                    }
                }
            }
        })
        .await
        .expect("the commit was not triggered");
        latency.push(recorded - written);
        baseline.push(raw_rx.recv().unwrap() - written);
    }
    world.settled().await;
    latency.sort();
    baseline.sort();
    let (p50, p99) = (percentile(&latency, 0.5), percentile(&latency, 0.99));
    let (b50, b99) = (percentile(&baseline, 0.5), percentile(&baseline, 0.99));
    println!(
        "trigger latency over 50 commits: p50 {:.1} ms, p99 {:.1} ms; raw notify event: p50 {:.3} ms, p99 {:.3} ms; ratio p50 {:.0}x (debounce quiet period {} ms)",
        ms(p50),
        ms(p99),
        ms(b50),
        ms(b99),
        ms(p50) / ms(b50).max(0.001),
        slipway_core::watch::QUIET.as_millis()
    );
    println!(
        "goal p50 < 50 ms: {}; goal p99 < 200 ms: {}",
        met(p50 < Duration::from_millis(50)),
        met(p99 < Duration::from_millis(200))
    );
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

/// This process's CPU time (user + system).
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Resident memory of this process, in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024.0
}

fn make_repo(path: &Path, file: &str) {
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = git2::Repository::init_opts(path, &opts).unwrap();
    let mut index = repo.index().unwrap();
    let blob = repo.blob(file.as_bytes()).unwrap();
    let mut builder = repo.treebuilder(None).unwrap();
    let mut sub = repo.treebuilder(None).unwrap();
    sub.insert("web.yml", blob, 0o100644).unwrap();
    builder
        .insert(".slipway", sub.write().unwrap(), 0o040000)
        .unwrap();
    let tree = repo.find_tree(builder.write().unwrap()).unwrap();
    let sig = git2::Signature::now("Bench", "bench@example.com").unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "initial", &tree, &[])
        .unwrap();
    index.read_tree(&tree).unwrap();
    index.write().unwrap();
}

async fn idle_cost_with_200_watched_repositories() {
    let idle: u64 = std::env::var("SLIPWAY_BENCH_IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let mut world = World::new();
    // Every repository has a push trigger and a nightly schedule: neither
    // may cost anything while nothing happens.
    let file = pipeline(
        "  - push:\n      branches: [main]\n  - schedule: \"0 3 * * *\"\n",
        "",
        "true",
    );
    for i in 0..200 {
        let path = world.dir.path().join(format!("repos/r{i:03}"));
        make_repo(&path, &file);
        slipway_core::repos::add(&world.store, &path, None, true, 1).unwrap();
    }
    let opening = Instant::now();
    world.watch().await;
    let opened = opening.elapsed();
    let mut watching = 0;
    let rx = world.watch_events.as_mut().unwrap();
    while let Ok(e) = rx.try_recv() {
        watching += usize::from(matches!(
            e,
            slipway_core::watch::WatchEvent::Watching { .. }
        ));
    }
    assert_eq!(watching, 200);

    let before = cpu_time();
    // The measurement is of doing nothing: sleeping is the point here.
    tokio::time::sleep(Duration::from_secs(idle)).await;
    let cpu = cpu_time() - before;
    let rss = rss_mib();
    println!(
        "200 repositories: watches opened in {:.0} ms; idle {idle} s: {:.3} CPU s ({:.4} per minute); RSS {rss:.1} MiB",
        ms(opened),
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 60.0 / idle as f64,
    );
    println!(
        "goal opening < 2 s: {}; goal RSS < 60 MiB: {}",
        met(opened < Duration::from_secs(2)),
        met(rss < 60.0)
    );
}

/// Both measure this whole process, so they run one after the other.
fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(trigger_latency_over_50_commits());
    runtime.block_on(idle_cost_with_200_watched_repositories());
}
