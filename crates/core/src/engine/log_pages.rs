//! Pages of one action's log file, by byte offset, for the log viewer: it
//! loads the tail first, pages backwards as the user scrolls up, and reads
//! on from where it stopped when a log event says the file grew. The file
//! is the complete record; pages start and end on line boundaries, so a
//! viewer can join them without splitting a line (or a UTF-8 character).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::model::ErrorCode;
use crate::store::{Store, StoreError};

/// A page big enough for a screenful of long lines, small enough to send
/// often while a build is chatty.
pub const DEFAULT_PAGE: u64 = 256 * 1024;
/// No page larger than this, whatever is asked: it bounds the server's and
/// the viewer's memory per call.
pub const MAX_PAGE: u64 = 4 * 1024 * 1024;

/// Whole lines of a log, and where they sit in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPage {
    pub text: String,
    /// The byte the page starts at.
    pub offset: u64,
    /// The byte after its end: where reading on continues.
    pub next_offset: u64,
    /// The file's size when read.
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LogPageError {
    #[error("no execution `{0}` (see `slipway executions`)")]
    NoExecution(String),
    #[error("execution `{id}` has {stages} stages; there is no stage {stage}")]
    NoStage {
        id: String,
        stages: usize,
        stage: u32,
    },
    #[error("stage `{stage}` has no action `{action}`")]
    NoAction { stage: String, action: String },
    #[error("cannot read the log {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LogPageError {
    /// The stable code this error crosses boundaries with.
    pub fn code(&self) -> ErrorCode {
        match self {
            LogPageError::NoExecution(_)
            | LogPageError::NoStage { .. }
            | LogPageError::NoAction { .. } => ErrorCode::NotFound,
            LogPageError::Read { .. } => ErrorCode::Io,
            LogPageError::Store(inner) => inner.code(),
        }
    }
}

/// A page of the log of `action` in stage `stage` (0-based) of execution
/// `id`: forward from `offset`, or ending `before` a byte, or the tail;
/// at most `limit` bytes (default [`DEFAULT_PAGE`], at most [`MAX_PAGE`]).
/// An action that has not written yet has an empty log.
pub fn action_log_page(
    store: &Store,
    data_dir: &Path,
    id: &str,
    stage: u32,
    action: &str,
    at: (Option<u64>, Option<u64>),
    limit: Option<u64>,
) -> Result<LogPage, LogPageError> {
    let detail = store
        .execution(id)?
        .ok_or_else(|| LogPageError::NoExecution(id.to_string()))?;
    let found = detail
        .stages
        .get(stage as usize)
        .ok_or_else(|| LogPageError::NoStage {
            id: id.to_string(),
            stages: detail.stages.len(),
            stage,
        })?;
    if !found.actions.iter().any(|a| a.name == action) {
        return Err(LogPageError::NoAction {
            stage: found.name.clone(),
            action: action.to_string(),
        });
    }
    let stage_name = found.name.clone();
    let Some(log) = super::logs::action_logs(data_dir, &detail, Some(action))
        .into_iter()
        .find(|l| l.stage == stage_name)
    else {
        return Ok(LogPage::default());
    };
    let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let page = match at {
        (Some(offset), _) => Page::From(offset),
        (None, Some(before)) => Page::Before(before),
        (None, None) => Page::Before(u64::MAX),
    };
    read_page(&log.path, page, limit).map_err(|source| LogPageError::Read {
        path: log.path.clone(),
        source,
    })
}

/// Where a page is wanted: forward from a byte, or ending at one.
#[derive(Debug, Clone, Copy)]
pub enum Page {
    From(u64),
    Before(u64),
}

/// Reads up to `limit` bytes of whole lines at `page`. A forward page
/// starts exactly at its offset (an earlier page's end) and ends at its last
/// line end; a backward page ends exactly at its byte and starts at its
/// first whole line. A single line longer than `limit` is cut rather than
/// returned as nothing.
pub fn read_page(path: &Path, page: Page, limit: u64) -> std::io::Result<LogPage> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        // Not started writing yet: an empty log, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LogPage::default()),
        Err(e) => return Err(e),
    };
    let size = file.metadata()?.len();
    let (start, end) = match page {
        Page::From(offset) => {
            let start = offset.min(size);
            (start, (start + limit).min(size))
        }
        Page::Before(before) => {
            let end = before.min(size);
            (end.saturating_sub(limit), end)
        }
    };
    // From one byte before `start`, to tell whether `start` is a line start.
    let from = start.saturating_sub(1);
    let mut buf = Vec::with_capacity((end - from) as usize);
    file.seek(SeekFrom::Start(from))?;
    file.take(end - from).read_to_end(&mut buf)?;
    let mut lo = (start - from) as usize;
    let mut hi = buf.len();
    match page {
        Page::From(_) if end < size => {
            if let Some(nl) = buf[lo..].iter().rposition(|&b| b == b'\n') {
                hi = lo + nl + 1;
            }
        }
        Page::Before(_) if start > 0 => {
            // Skip the partial line before the first whole one.
            if let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                if nl + 1 < hi {
                    lo = nl + 1;
                }
            }
        }
        _ => {}
    }
    lo = lo.min(hi);
    Ok(LogPage {
        text: String::from_utf8_lossy(&buf[lo..hi]).into_owned(),
        offset: from + lo as u64,
        next_offset: from + hi as u64,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::{read_page, Page};

    fn log(lines: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0-build.log");
        std::fs::write(&path, lines.concat()).unwrap();
        (dir, path)
    }

    #[test]
    fn the_tail_starts_at_a_whole_line_and_pages_join_back_to_the_file() {
        let lines: Vec<String> = (0..1000).map(|i| format!("line {i}\n")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (_dir, path) = log(&refs);
        let whole = std::fs::read_to_string(&path).unwrap();

        let tail = read_page(&path, Page::Before(u64::MAX), 100).unwrap();
        assert_eq!(tail.size, whole.len() as u64);
        assert_eq!(tail.next_offset, tail.size);
        assert!(tail.text.starts_with("line "), "{:?}", tail.text);
        assert!(tail.text.ends_with("line 999\n"));

        // Paging backwards from the tail rebuilds the file exactly.
        let mut pages = vec![tail.text.clone()];
        let mut upto = tail.offset;
        while upto > 0 {
            let page = read_page(&path, Page::Before(upto), 100).unwrap();
            assert_eq!(page.next_offset, upto, "pages meet without a gap");
            pages.push(page.text);
            upto = page.offset;
        }
        pages.reverse();
        assert_eq!(pages.concat(), whole);
    }

    #[test]
    fn reading_on_from_next_offset_gets_only_what_was_appended() {
        let (_dir, path) = log(&["one\n", "two\n"]);
        let first = read_page(&path, Page::Before(u64::MAX), 1024).unwrap();
        assert_eq!(first.text, "one\ntwo\n");
        std::fs::write(&path, "one\ntwo\nthree\n").unwrap();
        let more = read_page(&path, Page::From(first.next_offset), 1024).unwrap();
        assert_eq!(more.text, "three\n");
        assert_eq!(more.offset, first.next_offset);
    }

    #[test]
    fn a_line_longer_than_the_page_is_cut_rather_than_lost() {
        let long = "x".repeat(50) + "\n";
        let (_dir, path) = log(&[&long, "short\n"]);
        let page = read_page(&path, Page::From(0), 10).unwrap();
        assert_eq!(page.text, "x".repeat(10));
        let rest = read_page(&path, Page::From(page.next_offset), 100).unwrap();
        assert_eq!(page.text + &rest.text, long + "short\n");
    }

    #[test]
    fn a_log_not_written_yet_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let page = read_page(&dir.path().join("none.log"), Page::Before(u64::MAX), 10).unwrap();
        assert_eq!((page.text.as_str(), page.size), ("", 0));
    }
}
