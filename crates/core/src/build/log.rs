//! A build's log: everything its shells print (stdout and stderr through one
//! pipe, so their interleaving is kept), plus the runner's own
//! `[Container] …` lines, written to the log file as it is produced and
//! handed to a [`LogSink`] in batches.
//!
//! This module owns the pipe's reading end, secret masking, the log file and
//! batching. It must never hold more than a bounded amount of output in
//! memory (a build may print gigabytes), never buffer the file beyond one
//! read, and never decide anything about phases or commands: it only reports
//! the command exits it sees in the stream.
//!
//! How it stays in order: the runner's lines and the shells' "command N
//! exited with C" notes travel *in* the same pipe as the output, as records
//! `\x1e<nonce>:<kind>:<payload>\n` written with one `write` of less than
//! `PIPE_BUF` bytes (so never interleaved with other writers). A reader
//! thread splits the stream at those records; output between them is
//! masked line by line and written out.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, PipeReader, PipeWriter, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use memchr::memmem;
use tokio::sync::{mpsc, oneshot};

/// Receives the log while the build runs, in batches that end on line
/// boundaries (except for lines longer than [`MAX_LINE`]). Called from the
/// runner's task; it must not block (forward to a channel if needed). The
/// log file is the complete record; a sink is for live views.
pub trait LogSink: Send {
    fn publish(&mut self, batch: &[u8]);
}

impl<F: FnMut(&[u8]) + Send> LogSink for F {
    fn publish(&mut self, batch: &[u8]) {
        self(batch)
    }
}

/// A sink that drops everything (for callers that only want the file).
pub struct NoSink;

impl LogSink for NoSink {
    fn publish(&mut self, _batch: &[u8]) {}
}

/// A batch is published once this much output is waiting…
pub const BATCH_BYTES: usize = 64 * 1024;
/// …or once the oldest waiting byte is this old, whichever comes first.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(100);
/// Lines longer than this are masked and written in pieces, so a build that
/// prints a gigabyte without a newline still uses bounded memory.
pub const MAX_LINE: usize = 64 * 1024;
/// One read from the pipe. Large reads keep the syscall count low when a
/// build floods its output.
const READ_CHUNK: usize = 128 * 1024;
/// Chunks waiting between the reader thread and the sink. When the sink's
/// task falls behind this far, live output is dropped (the file still gets
/// everything) rather than slowing the build or growing memory.
const SINK_QUEUE: usize = 64;
/// Live output waiting for a slow sink before it is dropped (from the live
/// view only).
const LIVE_BACKLOG: usize = 4 * 1024 * 1024;
/// How much of a phase's output is kept for `on-failure: RETRY-<regex>`.
const TAIL_BYTES: usize = 64 * 1024;
/// Runner lines are cut to this length so a record stays one atomic write.
const MAX_RECORD_TEXT: usize = 3000;

/// "Command `seq` exited with `code`", as the shell reported it in-band.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exit {
    pub seq: u64,
    pub code: i32,
}

/// The last output of a phase, for retry patterns. Recording is off unless
/// a phase asks for it, so a flood of output costs no copies.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    pub enabled: bool,
    buf: Vec<u8>,
}

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        if !self.enabled {
            return;
        }
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > 2 * TAIL_BYTES {
            let cut = self.buf.len() - TAIL_BYTES;
            self.buf.drain(..cut);
        }
    }

    pub fn reset(&mut self, enabled: bool) {
        self.enabled = enabled;
        self.buf.clear();
    }

    pub fn text(&self) -> String {
        let start = self.buf.len().saturating_sub(TAIL_BYTES);
        String::from_utf8_lossy(&self.buf[start..]).into_owned()
    }
}

/// What the reader thread reports when the pipe closes.
#[derive(Debug, Default)]
pub(crate) struct PumpReport {
    pub bytes_written: u64,
    pub error: Option<String>,
}

/// The runner's side of the capture: the pipe's writing end (cloned into
/// every shell), the command exits read from the stream, and the tail.
pub(crate) struct Capture {
    writer: Option<PipeWriter>,
    nonce: String,
    pub exits: mpsc::UnboundedReceiver<Exit>,
    pub tail: Arc<Mutex<Tail>>,
    done: Option<oneshot::Receiver<PumpReport>>,
}

/// Starts capturing into `log_path` (appended to). Returns the runner's
/// handle and the receiver of live chunks for [`forward`].
pub(crate) fn start(
    log_path: &Path,
    nonce: &str,
    secrets: &[String],
) -> io::Result<(Capture, mpsc::Receiver<Vec<u8>>)> {
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = File::options().create(true).append(true).open(log_path)?;
    let (reader, writer) = std::io::pipe()?;
    let (exit_tx, exits) = mpsc::unbounded_channel();
    let (live_tx, live_rx) = mpsc::channel(SINK_QUEUE);
    let (done_tx, done) = oneshot::channel();
    let tail = Arc::new(Mutex::new(Tail::default()));
    let scanner = Scanner::new(nonce, secrets);
    let pump = Pump {
        file,
        tail: tail.clone(),
        exits: exit_tx,
        live: live_tx,
        chunk: Vec::new(),
        dropped: 0,
        report: PumpReport::default(),
    };
    std::thread::Builder::new()
        .name("slipway-build-log".into())
        .spawn(move || {
            let report = pump.run(reader, scanner);
            let _ = done_tx.send(report);
        })?;
    Ok((
        Capture {
            writer: Some(writer),
            nonce: nonce.to_string(),
            exits,
            tail,
            done: Some(done),
        },
        live_rx,
    ))
}

impl Capture {
    /// A new handle on the pipe for a shell's stdout or stderr.
    pub fn output(&self) -> io::Result<PipeWriter> {
        match &self.writer {
            Some(w) => w.try_clone(),
            None => Err(io::Error::other("the build log is already closed")),
        }
    }

    /// Writes one of the runner's own lines into the log, in order with the
    /// output before it. Newlines in `text` start new log lines.
    pub fn line(&mut self, text: &str) {
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        for part in text.split('\n') {
            let mut part = part.trim_end_matches('\r');
            if part.len() > MAX_RECORD_TEXT {
                let mut end = MAX_RECORD_TEXT;
                while !part.is_char_boundary(end) {
                    end -= 1;
                }
                part = &part[..end];
            }
            let record = format!("\x1e{}:log:{part}\n", self.nonce);
            // A failed write means the reader thread is gone, which it
            // reports itself; the build goes on.
            let _ = w.write_all(record.as_bytes());
        }
    }

    /// Closes the runner's end and waits for the reader thread to drain the
    /// pipe. Processes that escaped the build's process groups may hold the
    /// pipe open forever; after `patience` their output is abandoned.
    pub async fn finish(&mut self, patience: Duration) -> PumpReport {
        self.writer = None;
        let Some(done) = self.done.take() else {
            return PumpReport::default();
        };
        match tokio::time::timeout(patience, done).await {
            Ok(Ok(report)) => report,
            _ => PumpReport {
                bytes_written: 0,
                error: Some(
                    "a process that left the build's process group still holds its output open; \
                     its later output is not in this log"
                        .into(),
                ),
            },
        }
    }
}

/// Publishes live chunks to `sink` in batches of [`BATCH_BYTES`] or every
/// [`BATCH_INTERVAL`], until the reader thread ends or `finished` fires.
pub(crate) async fn forward(
    mut chunks: mpsc::Receiver<Vec<u8>>,
    sink: &mut dyn LogSink,
    mut finished: oneshot::Receiver<()>,
) {
    let mut batch: Vec<u8> = Vec::new();
    let mut deadline = tokio::time::Instant::now();
    loop {
        let wait_for_time = !batch.is_empty();
        tokio::select! {
            chunk = chunks.recv() => match chunk {
                Some(chunk) => {
                    if batch.is_empty() {
                        deadline = tokio::time::Instant::now() + BATCH_INTERVAL;
                    }
                    batch.extend_from_slice(&chunk);
                    if batch.len() >= BATCH_BYTES {
                        publish(sink, &batch);
                        batch.clear();
                    }
                }
                None => break,
            },
            _ = tokio::time::sleep_until(deadline), if wait_for_time => {
                publish(sink, &batch);
                batch.clear();
            }
            _ = &mut finished => {
                while let Ok(chunk) = chunks.try_recv() {
                    batch.extend_from_slice(&chunk);
                }
                break;
            }
        }
    }
    if !batch.is_empty() {
        publish(sink, &batch);
    }
}

/// Publishes `bytes` in batches of at most [`BATCH_BYTES`], cut after a
/// newline where the window has one.
fn publish(sink: &mut dyn LogSink, mut bytes: &[u8]) {
    while bytes.len() > BATCH_BYTES {
        let cut = memchr::memrchr(b'\n', &bytes[..BATCH_BYTES]).map_or(BATCH_BYTES, |i| i + 1);
        sink.publish(&bytes[..cut]);
        bytes = &bytes[cut..];
    }
    if !bytes.is_empty() {
        sink.publish(bytes);
    }
}

/// The reader thread: pipe → scanner → file, tail, live chunks, exits.
struct Pump {
    file: File,
    tail: Arc<Mutex<Tail>>,
    exits: mpsc::UnboundedSender<Exit>,
    live: mpsc::Sender<Vec<u8>>,
    chunk: Vec<u8>,
    dropped: u64,
    report: PumpReport,
}

impl Pump {
    fn run(mut self, mut reader: PipeReader, mut scanner: Scanner) -> PumpReport {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.fail(format!("reading the build's output: {e}"));
                    break;
                }
            };
            scanner.feed(&buf[..n], &mut |item| self.handle(item));
            self.send_live();
        }
        scanner.finish(&mut |item| self.handle(item));
        self.send_live();
        self.report
    }

    fn handle(&mut self, item: Item<'_>) {
        match item {
            Item::Output(bytes) => {
                self.write(&bytes);
                if let Ok(mut tail) = self.tail.lock() {
                    tail.push(&bytes);
                }
            }
            Item::Line(bytes) => {
                self.write(&bytes);
                self.write(b"\n");
            }
            Item::Exit(exit) => {
                let _ = self.exits.send(exit);
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        self.chunk.extend_from_slice(bytes);
        if self.report.error.is_some() {
            return;
        }
        match self.file.write_all(bytes) {
            Ok(()) => self.report.bytes_written += bytes.len() as u64,
            Err(e) => self.fail(format!("writing the build log: {e}")),
        }
    }

    fn fail(&mut self, message: String) {
        if self.report.error.is_none() {
            self.report.error = Some(message);
        }
    }

    /// Hands the output of this read to the sink's task. When that task is
    /// behind, the output waits here and grows with the next reads (up to
    /// [`LIVE_BACKLOG`]); past that it is dropped from the live view only.
    fn send_live(&mut self) {
        if self.chunk.is_empty() {
            return;
        }
        let mut chunk = std::mem::take(&mut self.chunk);
        if self.dropped > 0 {
            let note = format!(
                "[Slipway] {} bytes of output were not shown live; the log file has them\n",
                self.dropped
            );
            chunk.splice(0..0, note.into_bytes());
        }
        match self.live.try_send(chunk) {
            Ok(()) => self.dropped = 0,
            Err(mpsc::error::TrySendError::Full(chunk)) => {
                if chunk.len() > LIVE_BACKLOG {
                    self.dropped += chunk.len() as u64;
                } else {
                    self.chunk = chunk;
                    if self.dropped > 0 {
                        // The note is rebuilt on the next attempt.
                        let note_len = self
                            .chunk
                            .iter()
                            .position(|b| *b == b'\n')
                            .map_or(0, |i| i + 1);
                        self.chunk.drain(..note_len);
                    }
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// What the scanner found in the stream.
enum Item<'a> {
    /// Build output, already masked.
    Output(Cow<'a, [u8]>),
    /// One of the runner's lines (without its newline), masked.
    Line(Cow<'a, [u8]>),
    Exit(Exit),
}

/// Splits the byte stream into output and records, and masks secrets on
/// whole lines. Pure: no I/O, so it is tested on its own.
struct Scanner {
    pending: Vec<u8>,
    record: memmem::Finder<'static>,
    secrets: Vec<memmem::Finder<'static>>,
    /// Bytes held back when a long line is cut, so that neither a secret nor
    /// a record's start is ever split across two pieces.
    keep: usize,
}

impl Scanner {
    fn new(nonce: &str, secrets: &[String]) -> Scanner {
        let record = format!("\x1e{nonce}:").into_bytes();
        let mut secrets: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        let longest = secrets.first().map_or(0, |s| s.len());
        Scanner {
            pending: Vec::new(),
            keep: longest.max(record.len()),
            record: memmem::Finder::new(&record).into_owned(),
            secrets: secrets
                .into_iter()
                .map(|s| memmem::Finder::new(s.as_bytes()).into_owned())
                .collect(),
        }
    }

    fn feed(&mut self, mut data: &[u8], emit: &mut dyn FnMut(Item<'_>)) {
        if !self.pending.is_empty() {
            match memchr::memchr(b'\n', data) {
                Some(nl) => {
                    self.pending.extend_from_slice(&data[..=nl]);
                    let line = std::mem::take(&mut self.pending);
                    self.complete(&line, emit);
                    self.pending = line;
                    self.pending.clear();
                    data = &data[nl + 1..];
                }
                None => {
                    self.pending.extend_from_slice(data);
                    self.cut_long_line(emit);
                    return;
                }
            }
        }
        // The common case: whole lines straight from the read buffer.
        match memchr::memrchr(b'\n', data) {
            Some(nl) => {
                self.complete(&data[..=nl], emit);
                self.pending.extend_from_slice(&data[nl + 1..]);
            }
            None => self.pending.extend_from_slice(data),
        }
        self.cut_long_line(emit);
    }

    /// Emits what is left at the end of the stream (a last line without a
    /// newline), byte for byte.
    fn finish(&mut self, emit: &mut dyn FnMut(Item<'_>)) {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            let masked = self.mask(&rest);
            emit(Item::Output(masked));
        }
    }

    /// `region` ends with a newline and holds only whole lines.
    fn complete(&self, mut region: &[u8], emit: &mut dyn FnMut(Item<'_>)) {
        while let Some(at) = self.record.find(region) {
            let before = &region[..at];
            if !before.is_empty() {
                emit(Item::Output(self.mask(before)));
                // Output without a final newline before a record: end the
                // line so the runner's next line starts on its own.
                if !before.ends_with(b"\n") {
                    emit(Item::Output(Cow::Borrowed(b"\n")));
                }
            }
            let body_start = at + self.record.needle().len();
            let nl = memchr::memchr(b'\n', &region[body_start..])
                .map_or(region.len(), |i| body_start + i);
            self.record(&region[body_start..nl], emit);
            region = &region[(nl + 1).min(region.len())..];
        }
        if !region.is_empty() {
            emit(Item::Output(self.mask(region)));
        }
    }

    fn record(&self, body: &[u8], emit: &mut dyn FnMut(Item<'_>)) {
        if let Some(text) = body.strip_prefix(b"log:") {
            emit(Item::Line(self.mask(text)));
        } else if let Some(rest) = body.strip_prefix(b"rc:") {
            let rest = String::from_utf8_lossy(rest);
            let mut parts = rest.trim().splitn(2, ':');
            let seq = parts.next().and_then(|s| s.parse().ok());
            let code = parts.next().and_then(|s| s.parse().ok());
            if let (Some(seq), Some(code)) = (seq, code) {
                emit(Item::Exit(Exit { seq, code }));
            }
        }
    }

    /// A line longer than [`MAX_LINE`] is written in pieces. Secrets are
    /// masked on the whole pending text first; only then is it cut, leaving
    /// the last `keep` bytes, so an occurrence starting before the cut is
    /// complete (and masked) and one starting after it is still whole later.
    fn cut_long_line(&mut self, emit: &mut dyn FnMut(Item<'_>)) {
        if self.pending.len() <= MAX_LINE {
            return;
        }
        let limit = match self.record.find(&self.pending) {
            // A record has started (its newline has not arrived yet): all
            // output before it can go.
            Some(at) => at,
            None => {
                if let Cow::Owned(masked) = self.mask(&self.pending) {
                    self.pending = masked;
                }
                self.pending.len().saturating_sub(self.keep)
            }
        };
        if limit == 0 {
            return;
        }
        let head = self.mask(&self.pending[..limit]).into_owned();
        emit(Item::Output(Cow::Owned(head)));
        self.pending.drain(..limit);
    }

    fn mask<'a>(&self, text: &'a [u8]) -> Cow<'a, [u8]> {
        if self.secrets.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out: Option<Vec<u8>> = None;
        let mut pos = 0;
        loop {
            // The earliest occurrence of any secret (longest wins a tie, as
            // the list is sorted longest first).
            let mut best: Option<(usize, usize)> = None;
            for f in &self.secrets {
                if let Some(i) = f.find(&text[pos..]) {
                    if best.is_none_or(|(b, _)| i < b) {
                        best = Some((i, f.needle().len()));
                    }
                }
            }
            let Some((i, len)) = best else { break };
            let out = out.get_or_insert_with(|| Vec::with_capacity(text.len()));
            out.extend_from_slice(&text[pos..pos + i]);
            out.extend_from_slice(b"***");
            pos += i + len;
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut out) => {
                out.extend_from_slice(&text[pos..]);
                Cow::Owned(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(chunks: &[&[u8]], secrets: &[&str]) -> (String, Vec<(u64, i32)>) {
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let mut s = Scanner::new("N", &secrets);
        let mut text = Vec::new();
        let mut exits = Vec::new();
        let mut emit = |item: Item<'_>| match item {
            Item::Output(b) => text.extend_from_slice(&b),
            Item::Line(b) => {
                text.extend_from_slice(b"<");
                text.extend_from_slice(&b);
                text.extend_from_slice(b">\n");
            }
            Item::Exit(e) => exits.push((e.seq, e.code)),
        };
        for c in chunks {
            s.feed(c, &mut emit);
        }
        s.finish(&mut emit);
        (String::from_utf8(text).unwrap(), exits)
    }

    #[test]
    fn records_split_output_and_report_exits() {
        let (text, exits) = scan(
            &[
                b"\x1eN:log:Running",
                b" command\nhello\npartial\x1eN:rc:1:0\n",
            ],
            &[],
        );
        assert_eq!(text, "<Running command>\nhello\npartial\n");
        assert_eq!(exits, vec![(1, 0)]);
    }

    #[test]
    fn a_secret_split_across_reads_is_masked() {
        let (text, _) = scan(&[b"token=hun", b"ter2 ok\n"], &["hunter2"]);
        assert_eq!(text, "token=*** ok\n");
    }

    #[test]
    fn long_lines_are_cut_without_splitting_a_secret() {
        let mut line = vec![b'a'; MAX_LINE + 10];
        line.extend_from_slice(b"hunter2");
        line.extend_from_slice(&vec![b'b'; MAX_LINE]);
        let chunks: Vec<&[u8]> = line.chunks(1000).collect();
        let (text, _) = scan(&chunks, &["hunter2"]);
        assert_eq!(text.len(), 2 * MAX_LINE + 10 + 3);
        assert!(text.contains("a***b"));
    }
}
