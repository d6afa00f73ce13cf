//! Pages of one action's log file, by byte offset, for the log viewer: it
//! loads the tail first, pages backwards as the user scrolls up, and reads
//! on from where it stopped when a log event says the file grew. The file
//! is the complete record; pages start and end on line boundaries, so a
//! viewer can join them without splitting a line (or a UTF-8 character).

use std::io::{Read, Seek, SeekFrom};

use super::{ActionLogRequest, ActionLogResponse, ApiError, Core, ErrorCode};

/// A page big enough for a screenful of long lines, small enough to send
/// often while a build is chatty.
const DEFAULT_PAGE: u64 = 256 * 1024;
/// No page larger than this, whatever is asked: it bounds the server's and
/// the viewer's memory per call.
const MAX_PAGE: u64 = 4 * 1024 * 1024;

pub async fn action_log(core: &Core, req: ActionLogRequest) -> Result<ActionLogResponse, ApiError> {
    let detail = core.store.execution(&req.id)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            format!("no execution `{}` (see `slipway executions`)", req.id),
        )
    })?;
    let stage = detail.stages.get(req.stage as usize).ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            format!(
                "execution `{}` has {} stages; there is no stage {}",
                req.id,
                detail.stages.len(),
                req.stage
            ),
        )
    })?;
    if !stage.actions.iter().any(|a| a.name == req.action) {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("stage `{}` has no action `{}`", stage.name, req.action),
        ));
    }
    let stage_name = stage.name.clone();
    let log = crate::engine::logs::action_logs(&core.data_dir, &detail, Some(&req.action))
        .into_iter()
        .find(|l| l.stage == stage_name);
    let Some(log) = log else {
        return Ok(empty_page());
    };
    let limit = req.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let page = match (req.offset, req.before) {
        (Some(offset), _) => Page::From(offset),
        (None, Some(before)) => Page::Before(before),
        (None, None) => Page::Before(u64::MAX),
    };
    tokio::task::spawn_blocking(move || read_page(&log.path, page, limit))
        .await
        .map_err(ApiError::internal)?
}

fn empty_page() -> ActionLogResponse {
    ActionLogResponse {
        text: String::new(),
        offset: 0,
        next_offset: 0,
        size: 0,
    }
}

/// Where a page is wanted: forward from a byte, or ending at one.
#[derive(Debug, Clone, Copy)]
enum Page {
    From(u64),
    Before(u64),
}

/// Reads up to `limit` bytes of whole lines at `page`. A forward page
/// starts exactly at its offset (an earlier page's end) and ends at its last
/// line end; a backward page ends exactly at its byte and starts at its
/// first whole line. A single line longer than `limit` is cut rather than
/// returned as nothing.
fn read_page(
    path: &std::path::Path,
    page: Page,
    limit: u64,
) -> Result<ActionLogResponse, ApiError> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        // Not started writing yet: an empty log, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(empty_page()),
        Err(e) => return Err(read_error(path, e)),
    };
    let size = file.metadata().map_err(|e| read_error(path, e))?.len();
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
    file.seek(SeekFrom::Start(from))
        .map_err(|e| read_error(path, e))?;
    file.take(end - from)
        .read_to_end(&mut buf)
        .map_err(|e| read_error(path, e))?;
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
    Ok(ActionLogResponse {
        text: String::from_utf8_lossy(&buf[lo..hi]).into_owned(),
        offset: from + lo as u64,
        next_offset: from + hi as u64,
        size,
    })
}

fn read_error(path: &std::path::Path, e: std::io::Error) -> ApiError {
    ApiError::new(
        ErrorCode::Io,
        format!("cannot read the log {}: {e}", path.display()),
    )
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
