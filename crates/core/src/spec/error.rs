//! The one error shape every file-format check produces: where (file, line,
//! column, key path) and what was expected. Owns nothing else; it never
//! decides whether something is an error.

use serde::Serialize;

/// One problem in one file, located well enough for a person to fix it.
///
/// `line` and `column` are 1-based, counted in characters, like a compiler's.
/// `path` is the key path from the document root (`phases.build.commands[2]`);
/// empty for problems with the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}{}", at_path(path))]
pub struct SpecError {
    #[serde(skip)]
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub path: String,
    pub message: String,
}

fn at_path(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" (at {path})")
    }
}

/// Why the YAML loader refused a document outright, before any format check.
/// Each variant is a limit or a syntax rule the user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("file is {size} bytes; the most Slipway reads is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("nesting deeper than {limit} levels; simplify the structure")]
    TooDeep { limit: usize },
    #[error(
        "the document expands to more than {limit} nodes (aliases included); \
         refusing it as an alias bomb"
    )]
    TooManyNodes { limit: usize },
    #[error("YAML syntax error: {0}")]
    Syntax(String),
    #[error("the file is empty (or holds only comments)")]
    Empty,
    #[error("the file holds more than one YAML document; only one is allowed")]
    MultipleDocuments,
    #[error("alias `*{0}` refers to no anchor defined before it")]
    UnknownAlias(String),
}

/// Collects the errors of one file while it is checked, so that every
/// problem is reported, not just the first.
#[derive(Debug, Default)]
pub struct Findings {
    file: String,
    errors: Vec<SpecError>,
}

impl Findings {
    pub fn new(file: &str) -> Self {
        Findings {
            file: file.to_string(),
            errors: Vec::new(),
        }
    }

    pub fn push(&mut self, line: usize, column: usize, path: &str, message: impl Into<String>) {
        self.errors.push(SpecError {
            file: self.file.clone(),
            line,
            column,
            path: path.to_string(),
            message: message.into(),
        });
    }

    pub fn extend(&mut self, errors: impl IntoIterator<Item = SpecError>) {
        self.errors.extend(errors);
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The errors in file order, so output reads top to bottom.
    pub fn into_errors(mut self) -> Vec<SpecError> {
        self.errors.sort_by_key(|e| (e.line, e.column));
        self.errors
            .dedup_by(|a, b| a.line == b.line && a.column == b.column && a.message == b.message);
        self.errors
    }

    /// `Ok(value)` when nothing was found, else every error.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<SpecError>> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self.into_errors())
        }
    }
}
