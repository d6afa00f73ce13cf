//! Rust source as the architecture rules read it: tokens with comments
//! and literals removed (so a comment or a string that mentions
//! `crate::api` never counts), and which tokens sit in test-only code.
//! Part of the analysis in `deps.rs`, which includes this file.

/// A token of Rust source with comments and literals removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
    /// A string, char or number literal (its text is never looked at).
    Lit,
}

/// A token and the 1-based line it starts on.
#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
}

impl Token {
    pub fn is_ident(&self, name: &str) -> bool {
        matches!(&self.tok, Tok::Ident(s) if s == name)
    }

    pub fn is_punct(&self, c: char) -> bool {
        self.tok == Tok::Punct(c)
    }

    pub fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Ident(s) => Some(s),
            _ => None,
        }
    }
}

/// Splits Rust source into tokens, dropping comments (doc comments too) and
/// reducing string, char and number literals to [`Tok::Lit`].
pub fn tokenize(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let n = chars.len();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < n {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < n && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < n {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if let Some(len) = raw_string_start(&chars, i) {
            // r"..", r#".."#, br#".."#, cr".."
            let start_line = line;
            let hashes = chars[i..i + len].iter().filter(|c| **c == '#').count();
            i += len;
            while i < n {
                if chars[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#') {
                    i += 1 + hashes;
                    break;
                }
                if chars[i] == '\n' {
                    line += 1;
                }
                i += 1;
            }
            out.push(Token {
                tok: Tok::Lit,
                line: start_line,
            });
        } else if c == '"' || ((c == 'b' || c == 'c') && at(i + 1) == '"') {
            let start_line = line;
            i += if c == '"' { 1 } else { 2 };
            while i < n && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if at(i) == '\n' {
                    line += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(Token {
                tok: Tok::Lit,
                line: start_line,
            });
        } else if c == '\'' || (c == 'b' && at(i + 1) == '\'') {
            // A char literal ('a', '\n', '\u{1F600}', b'x') or a lifetime ('a).
            let q = if c == 'b' { i + 1 } else { i };
            if at(q + 1) == '\\' {
                let mut j = q + 2;
                while j < n && chars[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push(Token {
                    tok: Tok::Lit,
                    line,
                });
            } else if at(q + 2) == '\'' {
                i = q + 3;
                out.push(Token {
                    tok: Tok::Lit,
                    line,
                });
            } else {
                // A lifetime or label: skip the quote and its name.
                i = q + 1;
                while i < n && is_ident_char(chars[i]) {
                    i += 1;
                }
            }
        } else if c == 'r' && at(i + 1) == '#' && is_ident_start(at(i + 2)) {
            // A raw identifier: r#type.
            let start = i + 2;
            i = start;
            while i < n && is_ident_char(chars[i]) {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(chars[start..i].iter().collect()),
                line,
            });
        } else if is_ident_start(c) {
            let start = i;
            while i < n && is_ident_char(chars[i]) {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(chars[start..i].iter().collect()),
                line,
            });
        } else if c.is_ascii_digit() {
            while i < n && is_ident_char(chars[i]) {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Lit,
                line,
            });
        } else if c == ':' && at(i + 1) == ':' {
            out.push(Token {
                tok: Tok::Path,
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                tok: Tok::Punct(c),
                line,
            });
            i += 1;
        }
    }
    out
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The length of a raw string's opening (`r"`, `r#"`, `br##"`, …) at `i`.
fn raw_string_start(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if matches!(chars.get(j), Some('b') | Some('c')) {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    // An identifier ending in r (`for"`) is not a raw string.
    if i > 0 && is_ident_char(chars[i - 1]) {
        return None;
    }
    j += 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some(j + 1 - i)
}

/// Marks the tokens that sit in test-only code: items under `#[cfg(test)]`
/// (or a `cfg(all(test, ..))`), including inline `mod tests { .. }`.
pub fn test_regions(tokens: &[Token]) -> Vec<bool> {
    let mut test = vec![false; tokens.len()];
    let mut i = 0;
    while i < tokens.len() {
        if let Some(end) = attribute_end(tokens, i) {
            if is_cfg_test(&tokens[i..end]) {
                let item_end = item_end(tokens, end);
                for t in test.iter_mut().take(item_end).skip(i) {
                    *t = true;
                }
                i = item_end;
                continue;
            }
            i = end;
            continue;
        }
        i += 1;
    }
    test
}

/// When an outer attribute `#[..]` starts at `i`, the index just past it.
fn attribute_end(tokens: &[Token], i: usize) -> Option<usize> {
    if !tokens[i].is_punct('#') || !tokens.get(i + 1)?.is_punct('[') {
        return None;
    }
    Some(matching(tokens, i + 1, '[', ']') + 1)
}

/// Index of the bracket closing the one opened at `open`.
pub fn matching(tokens: &[Token], open: usize, l: char, r: char) -> usize {
    let mut depth = 0;
    for (j, t) in tokens.iter().enumerate().skip(open) {
        if t.is_punct(l) {
            depth += 1;
        } else if t.is_punct(r) {
            depth -= 1;
            if depth == 0 {
                return j;
            }
        }
    }
    tokens.len().saturating_sub(1)
}

/// Whether an attribute's tokens (`# [ cfg ( .. ) ]`) make the item test-only:
/// `cfg(test)` or `cfg(all(test, ..))`.
fn is_cfg_test(attr: &[Token]) -> bool {
    if attr.len() < 5 || !attr[2].is_ident("cfg") {
        return false;
    }
    let inner = &attr[4..attr.len() - 2];
    match inner.first() {
        Some(t) if t.is_ident("test") => inner.len() == 1,
        Some(t) if t.is_ident("all") => inner.iter().any(|t| t.is_ident("test")),
        _ => false,
    }
}

/// The index just past the item starting at `start` (after its attributes):
/// a `use` ends at its `;`, anything else at its first `;` or at the `}`
/// closing its first `{`, outside parentheses and brackets.
fn item_end(tokens: &[Token], mut start: usize) -> usize {
    while let Some(end) = attribute_end(tokens, start) {
        start = end;
    }
    let is_use = tokens[start..]
        .iter()
        .take(6)
        .take_while(|t| !t.is_punct(';') && !t.is_punct('{'))
        .any(|t| t.is_ident("use"));
    let mut depth = 0i32;
    let mut j = start;
    while j < tokens.len() {
        let t = &tokens[j];
        if t.is_punct('(') || t.is_punct('[') {
            depth += 1;
        } else if t.is_punct(')') || t.is_punct(']') {
            depth -= 1;
        } else if depth == 0 && t.is_punct(';') {
            return j + 1;
        } else if depth == 0 && t.is_punct('{') && !is_use {
            return matching(tokens, j, '{', '}') + 1;
        }
        j += 1;
    }
    tokens.len()
}
