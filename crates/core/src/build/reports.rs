//! Test reports: the files of each `reports:` group, read as JUnit XML and
//! counted the way CodeBuild's report view counts them (passed, failed,
//! skipped, error per test case; nested `<testsuites>` and `<testsuite>`
//! elements are walked through).
//!
//! This module owns reading report files. It must never fail a build: a
//! malformed or missing report becomes an error on that report only.

use std::path::Path;

use quick_xml::events::Event;
use serde::Serialize;

use crate::spec::buildspec::ReportGroup;

use super::files::{select, Selection};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TestCounts {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    pub errors: u64,
}

impl TestCounts {
    pub fn total(&self) -> u64 {
        self.passed + self.failed + self.skipped + self.errors
    }

    fn add(&mut self, other: TestCounts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.errors += other.errors;
    }
}

/// One report group after the build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    /// The report group's name (or ARN) from the buildspec.
    pub group: String,
    pub file_format: String,
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    pub errors: u64,
    /// The report files read, relative to the group's base directory.
    pub files: Vec<String>,
    /// What went wrong reading the group, if anything (the counts then
    /// cover the files that could be read).
    pub error: Option<String>,
}

impl ReportSummary {
    pub(crate) fn log_line(&self) -> String {
        match &self.error {
            Some(e) => format!("Report {}: {e}", self.group),
            None => format!(
                "Report {}: {} passed, {} failed, {} skipped, {} errors ({} files)",
                self.group,
                self.passed,
                self.failed,
                self.skipped,
                self.errors,
                self.files.len()
            ),
        }
    }
}

/// Reads one report group's files under `src_dir`.
pub(crate) fn collect(src_dir: &Path, group: &ReportGroup) -> ReportSummary {
    let mut summary = ReportSummary {
        group: group.name.clone(),
        file_format: group.file_format.clone(),
        passed: 0,
        failed: 0,
        skipped: 0,
        errors: 0,
        files: Vec::new(),
        error: None,
    };
    if group.file_format != "JUNITXML" {
        summary.error = Some(format!(
            "file-format {} is not supported yet; Slipway reads JUNITXML reports",
            group.file_format
        ));
        return summary;
    }
    let selection = Selection {
        base: match &group.base_directory {
            Some(b) => src_dir.join(b),
            None => src_dir.to_path_buf(),
        },
        patterns: group.files.clone(),
        // Report names only matter for display; keep them unique.
        discard_paths: false,
        ..Selection::default()
    };
    let chosen = match select(&selection) {
        Ok(c) => c,
        Err(e) => {
            summary.error = Some(e.to_string());
            return summary;
        }
    };
    if chosen.is_empty() {
        summary.error = Some(format!("no report files match {}", group.files.join(", ")));
        return summary;
    }
    let mut counts = TestCounts::default();
    let mut problems = Vec::new();
    for file in chosen {
        let shown = if group.discard_paths {
            file.path
                .rsplit('/')
                .next()
                .unwrap_or(&file.path)
                .to_string()
        } else {
            file.path.clone()
        };
        match std::fs::read(&file.source) {
            Ok(bytes) => match parse_junit(&bytes) {
                Ok(c) => counts.add(c),
                Err(e) => problems.push(format!("{shown}: {e}")),
            },
            Err(e) => problems.push(format!("{shown}: {e}")),
        }
        summary.files.push(shown);
    }
    summary.passed = counts.passed;
    summary.failed = counts.failed;
    summary.skipped = counts.skipped;
    summary.errors = counts.errors;
    if !problems.is_empty() {
        summary.error = Some(format!("unreadable report: {}", problems.join("; ")));
    }
    summary
}

/// Counts the test cases of a JUnit XML document. A `<testcase>` is failed
/// if it holds `<failure>`, an error if it holds `<error>`, skipped if it
/// holds `<skipped>`, and passed otherwise.
pub fn parse_junit(xml: &[u8]) -> Result<TestCounts, String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Case {
        Passed,
        Skipped,
        Failed,
        Error,
    }
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut counts = TestCounts::default();
    let mut case: Option<Case> = None;
    let mut depth = 0usize;
    let mut root: Option<String> = None;
    let count = |c: Case, counts: &mut TestCounts| match c {
        Case::Passed => counts.passed += 1,
        Case::Skipped => counts.skipped += 1,
        Case::Failed => counts.failed += 1,
        Case::Error => counts.errors += 1,
    };
    // The worst outcome inside a test case wins.
    let worse = |current: Case, seen: Case| {
        let rank = |c: Case| match c {
            Case::Passed => 0,
            Case::Skipped => 1,
            Case::Failed => 2,
            Case::Error => 3,
        };
        if rank(seen) > rank(current) {
            seen
        } else {
            current
        }
    };
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = e.local_name().into_inner().to_string();
                if root.is_none() {
                    root = Some(name.clone());
                }
                match name.as_str() {
                    "testcase" if empty => count(Case::Passed, &mut counts),
                    "testcase" => case = Some(Case::Passed),
                    "failure" => case = case.map(|c| worse(c, Case::Failed)),
                    "error" => case = case.map(|c| worse(c, Case::Error)),
                    "skipped" => case = case.map(|c| worse(c, Case::Skipped)),
                    _ => {}
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::End(ref e) => {
                depth = depth.saturating_sub(1);
                if e.local_name().into_inner() == "testcase" {
                    if let Some(c) = case.take() {
                        count(c, &mut counts);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if depth != 0 {
        return Err("malformed XML: the document ends before its elements are closed".into());
    }
    match root.as_deref() {
        Some("testsuites") | Some("testsuite") => Ok(counts),
        Some(other) => Err(format!(
            "not a JUnit XML report: its root element is <{other}>, expected <testsuites> or <testsuite>"
        )),
        None => Err("not a JUnit XML report: the file has no elements".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_suites_are_counted_by_test_case() {
        let xml = br#"<?xml version="1.0"?>
<testsuites>
  <testsuite name="a">
    <testcase name="ok"/>
    <testcase name="ok2"></testcase>
    <testcase name="bad"><failure message="x">trace</failure></testcase>
    <testsuite name="inner">
      <testcase name="skip"><skipped/></testcase>
      <testcase name="boom"><error/></testcase>
    </testsuite>
  </testsuite>
</testsuites>"#;
        let c = parse_junit(xml).unwrap();
        assert_eq!((c.passed, c.failed, c.skipped, c.errors), (2, 1, 1, 1));
    }

    #[test]
    fn malformed_xml_is_an_error_not_a_panic() {
        assert!(parse_junit(b"<testsuite><testcase></testsuite>").is_err());
        assert!(parse_junit(b"<testsuite><testcase>").is_err());
        assert!(parse_junit(b"hello").is_err());
    }
}
