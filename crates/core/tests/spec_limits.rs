//! Hostile or broken inputs are refused quickly, with an error, in bounded
//! memory: huge files, deep nesting, alias bombs, syntax errors.

use std::time::{Duration, Instant};

use slipway_core::spec::{self, buildspec, Kind};

/// Generous enough for a debug build on a slow machine; a runaway parse
/// (exponential aliases, quadratic scans) takes far longer.
const QUICK: Duration = Duration::from_secs(2);

fn refused_quickly(text: &str, kind: Kind, want: &str) {
    let start = Instant::now();
    let errors = spec::check(text, "input.yml", kind);
    let took = start.elapsed();
    assert!(
        errors.iter().any(|e| e.message.contains(want)),
        "expected `{want}`, got {errors:#?}"
    );
    assert!(took < QUICK, "took {took:?}");
}

#[test]
fn a_ten_megabyte_file_is_refused_without_parsing() {
    let text = format!("version: 0.2\n# {}\n", "x".repeat(10 * 1024 * 1024));
    refused_quickly(
        &text,
        Kind::Buildspec,
        "the most Slipway reads is 1048576 bytes",
    );
}

#[test]
fn a_ten_megabyte_file_on_disk_is_refused_without_reading_it_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("buildspec.yml");
    std::fs::write(&path, "a".repeat(10 * 1024 * 1024)).unwrap();
    let report = spec::validate_file(&path, None);
    assert!(!report.ok);
    assert!(
        report.errors[0].message.contains("10485760 bytes"),
        "{:?}",
        report.errors
    );
}

#[test]
fn ten_thousand_nested_sequences_are_refused_without_overflowing_the_stack() {
    let block = format!("version: 0.2\nphases:\n  {}x\n", "- ".repeat(10_000));
    refused_quickly(&block, Kind::Buildspec, "nesting deeper than 128 levels");
    let flow = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let errors = spec::check(&flow, "input.yml", Kind::Appspec);
    assert!(!errors.is_empty());
    let mapping = "a:\n".to_string()
        + &(1..1_000)
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect::<String>();
    refused_quickly(&mapping, Kind::Pipeline, "nesting deeper");
}

#[test]
fn a_billion_laughs_document_is_refused_as_an_alias_bomb() {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        text.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            [prev.as_str(); 10].join(", ")
        ));
    }
    refused_quickly(&text, Kind::Buildspec, "alias bomb");
}

#[test]
fn syntax_errors_and_empty_files_are_located() {
    let errors = buildspec::parse(
        "version: 0.2\nphases:\n  build:\n    commands: [a, b\n",
        "b.yml",
    )
    .unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.starts_with("YAML syntax error"),
        "{errors:?}"
    );
    assert!(errors[0].line >= 4);
    let errors = buildspec::parse("# nothing\n", "b.yml").unwrap_err();
    assert!(errors[0].message.contains("empty"));
    let errors = buildspec::parse("version: 0.2\n---\nversion: 0.2\n", "b.yml").unwrap_err();
    assert!(errors[0].message.contains("more than one YAML document"));
    let errors = buildspec::parse("phases: *nowhere\n", "b.yml").unwrap_err();
    assert_eq!(errors[0].line, 1);
}

#[test]
fn non_mapping_roots_and_odd_keys_never_panic() {
    for text in [
        "- a\n- b\n",
        "just text",
        "? [a, b]\n: c\n",
        "{[1]: 2}",
        "version: !!binary aGk=\n",
        "\u{feff}version: 0.2\n",
    ] {
        for kind in [Kind::Buildspec, Kind::Appspec, Kind::Pipeline] {
            let _ = spec::check(text, "x.yml", kind);
        }
    }
}
