//! Reading a [`Node`] tree into typed values while collecting every error
//! with its position and key path. The format modules (buildspec, appspec,
//! pipeline) say *what* they expect; this module says it the same way for
//! all of them. It must never know a format's keys.

use super::error::Findings;
use super::yaml::{Entry, Node, Style, Value};

/// A key path from the document root, like `phases.build.commands[2]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(String);

impl KeyPath {
    pub fn root() -> Self {
        KeyPath(String::new())
    }

    pub fn key(&self, key: &str) -> KeyPath {
        if self.0.is_empty() {
            KeyPath(key.to_string())
        } else {
            KeyPath(format!("{}.{key}", self.0))
        }
    }

    pub fn index(&self, i: usize) -> KeyPath {
        KeyPath(format!("{}[{i}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Collects errors for one file while its tree is read.
pub struct Reader {
    pub findings: Findings,
}

/// The entries of one mapping, with a record of which keys were read so
/// that the rest can be reported as unknown.
pub struct Fields<'n> {
    pub node: &'n Node,
    pub path: KeyPath,
    entries: &'n [Entry],
    used: Vec<bool>,
}

impl<'n> Fields<'n> {
    /// The value for `key`, marking it as known.
    pub fn get(&mut self, key: &str) -> Option<&'n Node> {
        let mut found = None;
        // A duplicated key is reported by the loader; mark every copy read
        // so it is not reported a second time as unknown.
        for (i, e) in self.entries.iter().enumerate() {
            if e.key.text() == Some(key) {
                self.used[i] = true;
                found = found.or(Some(&e.value));
            }
        }
        found
    }

    /// The first of several spellings present (e.g. CodeBuild's legacy
    /// names), marking all of them as known.
    pub fn get_any(&mut self, keys: &[&str]) -> Option<(&'n str, &'n Node)> {
        let mut found = None;
        for (i, e) in self.entries.iter().enumerate() {
            if let Some(k) = e.key.text() {
                if keys.contains(&k) {
                    self.used[i] = true;
                    found = found.or(Some((k, &e.value)));
                }
            }
        }
        found
    }

    /// Entries not yet read, in file order.
    pub fn rest(&mut self) -> Vec<&'n Entry> {
        let mut out = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            if !self.used[i] {
                self.used[i] = true;
                out.push(e);
            }
        }
        out
    }
}

impl Reader {
    pub fn new(file: &str) -> Self {
        Reader {
            findings: Findings::new(file),
        }
    }

    pub fn error(&mut self, node: &Node, path: &KeyPath, message: impl Into<String>) {
        self.findings
            .push(node.line, node.column, path.as_str(), message);
    }

    /// The node as a mapping; an error (and `None`) when it is anything else.
    /// Null reads as an empty mapping when `null_ok`, since YAML users write
    /// `install:` with nothing under it and AWS treats that as empty.
    pub fn mapping<'n>(
        &mut self,
        node: &'n Node,
        path: &KeyPath,
        what: &str,
    ) -> Option<Fields<'n>> {
        match &node.value {
            Value::Mapping(entries) => {
                for e in entries {
                    if e.key.text().is_none() {
                        self.error(
                            &e.key,
                            path,
                            format!(
                                "keys of {what} must be plain text, not {}",
                                e.key.kind_name()
                            ),
                        );
                    }
                }
                Some(Fields {
                    node,
                    path: path.clone(),
                    entries,
                    used: vec![false; entries.len()],
                })
            }
            _ if node.is_null() => Some(Fields {
                node,
                path: path.clone(),
                entries: &[],
                used: Vec::new(),
            }),
            _ => {
                self.error(
                    node,
                    path,
                    format!(
                        "expected {what} (a mapping of keys), found {}",
                        node.kind_name()
                    ),
                );
                None
            }
        }
    }

    /// Reports every key of `fields` that was not read, with a "did you
    /// mean" from `known` when one is close.
    pub fn unknown_keys(&mut self, fields: &mut Fields<'_>, known: &[&str], what: &str) {
        for e in fields.rest() {
            let Some(key) = e.key.text() else { continue };
            let mut message = format!("unknown key `{key}` in {what}");
            match suggest(key, known) {
                Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
                None => message.push_str(&format!("; expected one of: {}", list(known))),
            }
            self.error(&e.key, &fields.path.key(key), message);
        }
    }

    /// For readers that ignore keys they do not know (the CodeDeploy agent):
    /// unknown keys pass, except one that is a slip away from a known key,
    /// since that key's setting would be silently lost.
    pub fn misspelt_keys(&mut self, fields: &mut Fields<'_>, known: &[&str], what: &str) {
        for e in fields.rest() {
            let Some(key) = e.key.text() else { continue };
            if let Some(s) = suggest(key, known) {
                self.error(
                    &e.key,
                    &fields.path.key(key),
                    format!("unknown key `{key}` in {what}; did you mean `{s}`?"),
                );
            }
        }
    }

    /// Any scalar's text (numbers and booleans keep their source text).
    pub fn string(&mut self, node: &Node, path: &KeyPath, what: &str) -> Option<String> {
        match &node.value {
            Value::Scalar(s) if !node.is_null() => Some(s.text.clone()),
            _ => {
                self.error(
                    node,
                    path,
                    format!("expected {what}, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    /// A string that must be one of `allowed` (compared exactly, as AWS does).
    pub fn choice(
        &mut self,
        node: &Node,
        path: &KeyPath,
        allowed: &[&str],
        what: &str,
    ) -> Option<String> {
        let s = self.string(node, path, what)?;
        if allowed.contains(&s.as_str()) {
            return Some(s);
        }
        let mut message = format!("`{s}` is not a valid {what}");
        match suggest(&s, allowed) {
            Some(x) => message.push_str(&format!("; did you mean `{x}`?")),
            None => message.push_str(&format!("; expected one of: {}", list(allowed))),
        }
        self.error(node, path, message);
        None
    }

    pub fn bool(&mut self, node: &Node, path: &KeyPath, what: &str) -> Option<bool> {
        let b = node.as_bool();
        if b.is_none() {
            self.error(
                node,
                path,
                format!(
                    "expected {what} (yes/no or true/false), found {}",
                    describe(node)
                ),
            );
        }
        b
    }

    /// A whole number within `range`.
    pub fn integer(
        &mut self,
        node: &Node,
        path: &KeyPath,
        range: std::ops::RangeInclusive<u64>,
        what: &str,
    ) -> Option<u64> {
        let parsed = node
            .scalar()
            .and_then(|s| s.text.trim().parse::<u64>().ok())
            .filter(|n| range.contains(n));
        if parsed.is_none() {
            self.error(
                node,
                path,
                format!(
                    "expected {what}: a whole number from {} to {}, found {}",
                    range.start(),
                    range.end(),
                    describe(node)
                ),
            );
        }
        parsed
    }

    /// A list of strings; a single scalar reads as a one-item list when
    /// `scalar_ok` (AWS accepts `files: '**/*'`). Null items are skipped.
    pub fn strings(
        &mut self,
        node: &Node,
        path: &KeyPath,
        what: &str,
        scalar_ok: bool,
    ) -> Vec<String> {
        match &node.value {
            Value::Sequence(items) => items
                .iter()
                .enumerate()
                .filter(|(_, n)| !n.is_null())
                .filter_map(|(i, n)| self.string(n, &path.index(i), what))
                .collect(),
            Value::Scalar(_) if node.is_null() => Vec::new(),
            Value::Scalar(s) if scalar_ok => vec![s.text.clone()],
            _ => {
                self.error(
                    node,
                    path,
                    format!("expected a list of {what}, found {}", node.kind_name()),
                );
                Vec::new()
            }
        }
    }

    /// A mapping of names to string values (environment variables and the
    /// like), in file order.
    pub fn string_map(&mut self, node: &Node, path: &KeyPath, what: &str) -> Vec<(String, String)> {
        let Some(mut fields) = self.mapping(node, path, what) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in fields.rest() {
            let Some(k) = e.key.text() else { continue };
            let p = path.key(k);
            let value = match &e.value.value {
                // An empty value is an empty string to CodeBuild, not an error.
                Value::Scalar(s) if e.value.is_null() => s.text.clone(),
                Value::Scalar(s) => s.text.clone(),
                _ => {
                    self.error(
                        &e.value,
                        &p,
                        format!(
                            "expected a text value for `{k}`, found {}",
                            e.value.kind_name()
                        ),
                    );
                    continue;
                }
            };
            out.push((k.to_string(), value));
        }
        out
    }

    /// Items of a sequence (null reads as empty); an error for anything else.
    pub fn sequence<'n>(&mut self, node: &'n Node, path: &KeyPath, what: &str) -> &'n [Node] {
        match &node.value {
            Value::Sequence(items) => items,
            _ if node.is_null() => &[],
            _ => {
                self.error(
                    node,
                    path,
                    format!("expected a list of {what}, found {}", node.kind_name()),
                );
                &[]
            }
        }
    }
}

/// How a value reads to a person, for "found …" in messages.
pub fn describe(node: &Node) -> String {
    match &node.value {
        Value::Scalar(s) if !node.is_null() => {
            let q = if s.style == Style::Plain {
                ""
            } else {
                "quoted "
            };
            let mut t: String = s.text.chars().take(40).collect();
            if s.text.chars().count() > 40 {
                t.push('…');
            }
            format!("{q}`{t}`")
        }
        _ => node.kind_name().to_string(),
    }
}

fn list(known: &[&str]) -> String {
    known
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known word closest to `word`, if it is close enough to be a typo:
/// within a third of the word's length in edit distance (case and `-`/`_`
/// mix-ups count as half an edit, they are the commonest slips).
pub fn suggest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let mut best: Option<(&str, usize)> = None;
    for k in known {
        let d = distance(word, k);
        if best.is_none_or(|(_, b)| d < b) {
            best = Some((k, d));
        }
    }
    let (k, d) = best?;
    // Distances are doubled so half-edits stay integral.
    let limit = 2 * (word.chars().count().max(k.chars().count()) / 3).max(1);
    (d <= limit && d > 0).then_some(k)
}

/// Edit distance (optimal string alignment: insert, delete, substitute,
/// swap neighbours), doubled, where a change of case or of `-`/`_` costs 1
/// instead of 2.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    let mut prev: Vec<usize> = (0..=b.len()).map(|j| 2 * j).collect();
    let mut cur = vec![0; b.len() + 1];
    let mut before = prev.clone();
    for i in 1..=a.len() {
        cur[0] = 2 * i;
        for j in 1..=b.len() {
            let (x, y) = (a[i - 1], b[j - 1]);
            let sub = if x == y {
                0
            } else if x.eq_ignore_ascii_case(&y) || ("-_".contains(x) && "-_".contains(y)) {
                1
            } else {
                2
            };
            cur[j] = (prev[j - 1] + sub).min(prev[j] + 2).min(cur[j - 1] + 2);
            // Swapped neighbours (`biuld`) are one slip, not two.
            if i > 1 && j > 1 && x == b[j - 2] && a[i - 2] == y {
                cur[j] = cur[j].min(before[j - 2] + 2);
            }
        }
        before.clone_from(&prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::suggest;

    #[test]
    fn a_typo_gets_the_closest_known_word() {
        let phases = ["install", "pre_build", "build", "post_build"];
        assert_eq!(suggest("post-build", &phases), Some("post_build"));
        assert_eq!(suggest("postbuild", &phases), Some("post_build"));
        assert_eq!(suggest("biuld", &phases), Some("build"));
        assert_eq!(suggest("instal", &phases), Some("install"));
        assert_eq!(suggest("deploy", &phases), None);
    }
}
