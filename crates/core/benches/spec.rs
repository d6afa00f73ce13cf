//! How long parsing + validating a 1,000-line buildspec takes, next to a raw
//! YAML parse of the same text with the underlying crate (saphyr-parser,
//! events only), so the ratio shows what Slipway's own work costs.
//!
//! Run: `cargo bench -p slipway-core --bench spec`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use saphyr_parser::Parser;
use slipway_core::spec::buildspec;

/// A realistic buildspec: env, every phase, many commands of every style,
/// reports, artifacts and cache, padded to 1,000 lines with commands.
fn thousand_line_buildspec() -> String {
    let mut s = String::from(
        "version: 0.2
env:
  shell: bash
  variables:
    NODE_ENV: production
    REGION: eu-west-1
  exported-variables: [VERSION]
phases:
  install:
    runtime-versions:
      nodejs: 18
    commands:
      - npm ci
  pre_build:
    on-failure: RETRY-2
    commands:
      - echo pre
  build:
    commands:
",
    );
    let mut lines = s.lines().count();
    let mut i = 0;
    // Leave room for the tail below (22 lines).
    while lines < 1000 - 22 {
        match i % 4 {
            0 => s.push_str(&format!("      - \"echo step {i}: building\"\n")),
            1 => s.push_str(&format!("      - npm run task-{i} -- --flag\n")),
            2 => s.push_str(&format!("      - {i}\n")),
            _ => {
                s.push_str("      - |\n        set -e\n");
                lines += 1;
            }
        }
        lines += 1;
        i += 1;
    }
    s.push_str(
        "    finally:
      - echo done
  post_build:
    commands:
      - echo post
reports:
  unit:
    files: ['**/*.xml']
    base-directory: reports
artifacts:
  files:
    - '**/*'
  base-directory: dist
  discard-paths: no
  secondary-artifacts:
    docs:
      files: [docs/**/*]
cache:
  key: npm
  paths:
    - node_modules/**/*
",
    );
    s
}

fn bench(c: &mut Criterion) {
    let text = thousand_line_buildspec();
    assert!(
        (995..=1005).contains(&text.lines().count()),
        "{} lines",
        text.lines().count()
    );
    buildspec::parse(&text, "buildspec.yml").expect("the benchmark buildspec is valid");
    let mut group = c.benchmark_group("buildspec-1000-lines");
    group.bench_function("raw saphyr-parser events (baseline)", |b| {
        b.iter(|| {
            let mut parser = Parser::new_from_str(black_box(&text));
            let mut n = 0usize;
            while let Some(Ok(_)) = parser.next_event() {
                n += 1;
            }
            n
        })
    });
    group.bench_function("slipway parse + validate", |b| {
        b.iter(|| buildspec::parse(black_box(&text), "buildspec.yml").is_ok())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
