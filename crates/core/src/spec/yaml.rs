//! The YAML loader every file format goes through (JSON appspecs too: YAML
//! 1.2 is a superset of JSON, so one loader gives both the same positions
//! and the same limits).
//!
//! It turns text into a small tree of [`Node`]s that remember where they
//! came from (line and column of every value and key) and how scalars were
//! written (style and tag), so that `"1"` and `1` stay distinguishable and a
//! command YAML reads as a number keeps its source text. It refuses inputs
//! that would cost unbounded time or memory: oversized text, deep nesting,
//! alias bombs. It must never know what a buildspec or an appspec is.
//!
//! # Why `saphyr-parser`
//!
//! `serde_yaml` is archived and `serde` deserialisation loses positions.
//! `saphyr-parser` is the maintained successor of `yaml-rust` (as is
//! `yaml-rust2`, by the same people), is YAML 1.2 compliant, and exposes a
//! pull parser whose every event carries a span. Pulling events one at a
//! time lets this module keep its own explicit stack, count depth and alias
//! expansion as it goes, and stop at the first limit breached: the parser
//! itself keeps a state vector rather than recursing (and caps flow nesting
//! at 255), so 10,000 nested sequences cannot overflow the stack. We use the
//! parser only, not `saphyr`'s own tree, because that tree drops positions
//! and expands aliases without a budget.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::error::{Findings, LoadError, SpecError};

/// Real buildspecs, appspecs and pipelines are a few kilobytes; a megabyte
/// is far beyond any of them and small enough to parse in milliseconds.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;
/// No real file nests more than ~10 levels; 128 leaves room for generated
/// files while keeping every recursive walk over the tree shallow.
pub const MAX_DEPTH: usize = 128;
/// Every node counts, and an alias counts as a full copy of what it names:
/// that is what bounds a billion-laughs document. A 1 MiB file of short
/// flow items has about 250k nodes, so this refuses nothing real.
pub const MAX_NODES: usize = 300_000;

/// How a scalar was written. Plain scalars are the only ones YAML resolves
/// to numbers, booleans or null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    Block,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The scalar's text after YAML unescaping / folding.
    pub text: String,
    pub style: Style,
    /// A tag such as `!GetAtt` or `!!str`, written as it appeared.
    pub tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Sequence(Vec<Node>),
    Mapping(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
}

/// A value with the position (1-based line and column) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub line: usize,
    pub column: usize,
}

impl Node {
    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// Null as YAML 1.1/1.2 resolve it: an empty or `~`/`null` plain scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s) if s.style == Style::Plain
            && s.tag.is_none()
            && matches!(s.text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The text of any non-null scalar, whatever YAML would resolve it to.
    pub fn text(&self) -> Option<&str> {
        if self.is_null() {
            return None;
        }
        self.scalar().map(|s| s.text.as_str())
    }

    /// Booleans as CodeBuild and the CodeDeploy agent read them (YAML 1.1:
    /// AWS's own docs write `discard-paths: yes`).
    pub fn as_bool(&self) -> Option<bool> {
        let s = self.scalar()?;
        if s.style != Style::Plain {
            return None;
        }
        match s.text.as_str() {
            "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => {
                Some(true)
            }
            "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n"
            | "N" => Some(false),
            _ => None,
        }
    }

    /// A plain scalar that YAML reads as a number.
    pub fn as_number(&self) -> Option<f64> {
        let s = self.scalar()?;
        if s.style != Style::Plain {
            return None;
        }
        let t = s.text.trim();
        if t.is_empty() || !t.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c)) {
            return None;
        }
        t.parse::<f64>().ok().filter(|n| n.is_finite())
    }

    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar(_) if self.is_null() => "nothing (null)",
            Value::Scalar(_) => "a scalar",
            Value::Sequence(_) => "a list",
            Value::Mapping(_) => "a mapping",
        }
    }
}

/// A loaded document: its root, plus problems that did not stop loading
/// (duplicate keys) and must still be reported.
#[derive(Debug)]
pub struct Document {
    pub root: Node,
    pub warnings: Vec<SpecError>,
}

/// Loads one YAML (or JSON) document, refusing it with a located error when
/// it breaks a limit or YAML's syntax.
pub fn load(text: &str, file: &str) -> Result<Document, SpecError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(located(
            file,
            1,
            1,
            String::new(),
            LoadError::TooLarge {
                size: text.len(),
                limit: MAX_INPUT_BYTES,
            },
        ));
    }
    Builder::new(file).run(text)
}

fn located(file: &str, line: usize, column: usize, path: String, e: LoadError) -> SpecError {
    SpecError {
        file: file.to_string(),
        line,
        column,
        path,
        message: e.to_string(),
    }
}

enum Frame {
    Sequence {
        line: usize,
        column: usize,
        anchor: usize,
        items: Vec<Node>,
        size: usize,
    },
    Mapping {
        line: usize,
        column: usize,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<Node>,
        seen: HashSet<String>,
        size: usize,
    },
}

struct Builder<'f> {
    file: &'f str,
    stack: Vec<Frame>,
    /// Anchor id -> (node, its size in nodes) for alias expansion.
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    root: Option<Node>,
    documents: usize,
    warnings: Findings,
}

fn position(span: &Span) -> (usize, usize) {
    (span.start.line(), span.start.col() + 1)
}

impl<'f> Builder<'f> {
    fn new(file: &'f str) -> Self {
        Builder {
            file,
            stack: Vec::new(),
            anchors: HashMap::new(),
            nodes: 0,
            root: None,
            documents: 0,
            warnings: Findings::new(file),
        }
    }

    fn fail(&self, span: &Span, e: LoadError) -> SpecError {
        let (line, column) = position(span);
        located(self.file, line, column, self.path(), e)
    }

    fn run(mut self, text: &str) -> Result<Document, SpecError> {
        let mut parser = Parser::new_from_str(text);
        while let Some(event) = parser.next_event() {
            let (event, span) = event.map_err(|e| {
                let m = e.marker();
                located(
                    self.file,
                    m.line(),
                    m.col() + 1,
                    self.path(),
                    LoadError::Syntax(e.info().to_string()),
                )
            })?;
            self.on_event(event, &span)?;
        }
        let warnings = self.warnings.into_errors();
        match self.root {
            Some(root) if !root.is_null() => Ok(Document { root, warnings }),
            _ => Err(located(self.file, 1, 1, String::new(), LoadError::Empty)),
        }
    }

    fn count(&mut self, span: &Span, n: usize) -> Result<(), SpecError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(self.fail(span, LoadError::TooManyNodes { limit: MAX_NODES }));
        }
        Ok(())
    }

    fn on_event(&mut self, event: Event<'_>, span: &Span) -> Result<(), SpecError> {
        let (line, column) = position(span);
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self.fail(span, LoadError::MultipleDocuments));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count(span, 1)?;
                let node = Node {
                    value: Value::Scalar(Scalar {
                        text: text.into_owned(),
                        style: match style {
                            ScalarStyle::Plain => Style::Plain,
                            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Style::Quoted,
                            _ => Style::Block,
                        },
                        tag: tag.map(|t| format!("{}{}", t.handle, t.suffix)),
                    }),
                    line,
                    column,
                };
                self.complete(node, 1, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.open(span)?;
                self.stack.push(Frame::Sequence {
                    line,
                    column,
                    anchor,
                    items: Vec::new(),
                    size: 1,
                });
            }
            Event::MappingStart(anchor, _) => {
                self.open(span)?;
                self.stack.push(Frame::Mapping {
                    line,
                    column,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    seen: HashSet::new(),
                    size: 1,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, size, anchor) = match self.stack.pop() {
                    Some(Frame::Sequence {
                        line,
                        column,
                        anchor,
                        items,
                        size,
                    }) => (
                        Node {
                            value: Value::Sequence(items),
                            line,
                            column,
                        },
                        size,
                        anchor,
                    ),
                    Some(Frame::Mapping {
                        line,
                        column,
                        anchor,
                        entries,
                        size,
                        ..
                    }) => {
                        let (entries, extra) = merge_keys(entries);
                        self.count(span, extra)?;
                        (
                            Node {
                                value: Value::Mapping(entries),
                                line,
                                column,
                            },
                            size + extra,
                            anchor,
                        )
                    }
                    None => return Ok(()),
                };
                self.complete(node, size, anchor);
            }
            Event::Alias(id) => {
                let Some((target, size)) = self.anchors.get(&id).cloned() else {
                    return Err(self.fail(span, LoadError::UnknownAlias(id.to_string())));
                };
                // Counted as a full copy before it is made: this is the check
                // that refuses billion-laughs documents in bounded memory.
                self.count(span, size)?;
                let mut node = target;
                node.line = line;
                node.column = column;
                self.complete(node, size, 0);
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn open(&mut self, span: &Span) -> Result<(), SpecError> {
        self.count(span, 1)?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.fail(span, LoadError::TooDeep { limit: MAX_DEPTH }));
        }
        Ok(())
    }

    fn complete(&mut self, node: Node, size: usize, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        let duplicate = match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                None
            }
            Some(Frame::Sequence { items, size: s, .. }) => {
                items.push(node);
                *s += size;
                None
            }
            Some(Frame::Mapping {
                entries,
                key,
                seen,
                size: s,
                ..
            }) => {
                *s += size;
                match key.take() {
                    None => {
                        let dup = match node.text() {
                            Some(k) if k != "<<" && !seen.insert(k.to_string()) => {
                                Some((k.to_string(), node.line, node.column))
                            }
                            _ => None,
                        };
                        *key = Some(node);
                        dup
                    }
                    Some(k) => {
                        entries.push(Entry {
                            key: k,
                            value: node,
                        });
                        None
                    }
                }
            }
        };
        if let Some((k, line, column)) = duplicate {
            let path = self.path();
            self.warnings.push(
                line,
                column,
                &path,
                format!("duplicate key `{k}`: YAML keeps only one of them; remove or rename one"),
            );
        }
    }

    /// The key path of the value being built, for locating loader errors.
    fn path(&self) -> String {
        let mut path = String::new();
        for frame in &self.stack {
            match frame {
                Frame::Sequence { items, .. } => path.push_str(&format!("[{}]", items.len())),
                Frame::Mapping { key: Some(k), .. } => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k.text().unwrap_or("?"));
                }
                Frame::Mapping { .. } => {}
            }
        }
        path
    }
}

/// YAML 1.1 merge keys (`<<: *defaults`), which users of anchors expect and
/// the YAML libraries behind CodeBuild and the CodeDeploy agent honour:
/// the merged mapping's keys are added unless the mapping sets them itself.
/// Returns the new entries and how many nodes the merge added.
fn merge_keys(entries: Vec<Entry>) -> (Vec<Entry>, usize) {
    if !entries.iter().any(|e| {
        e.key.text() == Some("<<") && e.key.scalar().is_some_and(|s| s.style == Style::Plain)
    }) {
        return (entries, 0);
    }
    let mut own = Vec::new();
    let mut merged = Vec::new();
    for e in entries {
        if e.key.text() == Some("<<") {
            match e.value.value {
                Value::Mapping(m) => merged.extend(m),
                Value::Sequence(items) => {
                    for item in items {
                        if let Value::Mapping(m) = item.value {
                            merged.extend(m);
                        }
                    }
                }
                Value::Scalar(_) => own.push(Entry {
                    key: e.key,
                    value: e.value,
                }),
            }
        } else {
            own.push(e);
        }
    }
    let mut added = 0;
    for m in merged {
        let k = m.key.text().map(str::to_string);
        if own.iter().any(|o| o.key.text().map(str::to_string) == k) {
            continue;
        }
        added += 2;
        own.push(m);
    }
    (own, added)
}
