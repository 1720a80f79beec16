//! A file-backed, append-only journal that several processes write and a
//! test reads back.
//!
//! # Format
//!
//! One record per line, five fields separated by a single tab, the line
//! ended by `\n`:
//!
//! ```text
//! kind \t id \t handler \t attempt \t pid \n
//! ```
//!
//! * `kind`: what happened, e.g. `start` (a handler began on an emission) or
//!   `done` (it finished);
//! * `id`: the emission's id;
//! * `handler`: the handler's name;
//! * `attempt`: the delivery attempt, a decimal `u64`;
//! * `pid`: the writing process' id, a decimal `u32`.
//!
//! No field may contain a tab, `\r` or `\n`.
//!
//! # Concurrency
//!
//! Every writer opens the file with `OpenOptions::new().append(true)` and
//! writes each whole line with a single `write` call. Writes of less than
//! 4 KiB to a file opened with `O_APPEND` are atomic on Linux, so lines from
//! concurrent writers (threads or processes) never interleave, and a writer
//! killed mid-way has either written its whole line or none of it. A reader
//! that races a writer may see a last line without its `\n`; [`read_journal`]
//! ignores such a line.
//!
//! This file only uses `std`, so that a worker binary can include it with
//! `#[path = ".../tests/support/journal.rs"] mod journal;`.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The largest line [`append_line`] writes: below the 4 KiB atomicity bound.
pub const MAX_LINE: usize = 4000;

/// One parsed journal line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JournalLine {
    /// What happened: `start`, `done`, ...
    pub kind: String,
    /// The emission's id.
    pub id: String,
    /// The handler's name.
    pub handler: String,
    /// The delivery attempt.
    pub attempt: u64,
    /// The writing process' id.
    pub pid: u32,
}

impl JournalLine {
    /// Parses one line (without its `\n`); `None` if it is malformed.
    pub fn parse(line: &str) -> Option<JournalLine> {
        let mut fields = line.split('\t');
        let kind = fields.next()?;
        let id = fields.next()?;
        let handler = fields.next()?;
        let attempt = fields.next()?.parse().ok()?;
        let pid = fields.next()?.parse().ok()?;
        if fields.next().is_some() {
            return None;
        }
        Some(JournalLine {
            kind: kind.to_owned(),
            id: id.to_owned(),
            handler: handler.to_owned(),
            attempt,
            pid,
        })
    }
}

/// Appends one line to the journal at `path` (which must exist) with a
/// single `write` on a file opened in append mode.
///
/// Panics if a field contains a tab or a line break, if the line would be
/// longer than [`MAX_LINE`], or if the write fails or is short.
pub fn append_line(path: &Path, kind: &str, id: &str, handler: &str, attempt: u64, pid: u32) {
    for (name, field) in [("kind", kind), ("id", id), ("handler", handler)] {
        assert!(
            !field.contains(['\t', '\n', '\r']),
            "journal field {name} contains a tab or line break: {field:?}"
        );
    }
    let line = format!("{kind}\t{id}\t{handler}\t{attempt}\t{pid}\n");
    assert!(
        line.len() <= MAX_LINE,
        "journal line of {} bytes is longer than {MAX_LINE}",
        line.len()
    );
    let mut file = OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open journal {}: {e}", path.display()));
    let written = file
        .write(line.as_bytes())
        .unwrap_or_else(|e| panic!("write journal {}: {e}", path.display()));
    assert_eq!(
        written,
        line.len(),
        "short write to journal {}",
        path.display()
    );
}

/// Reads and parses every complete line of the journal at `path`.
///
/// A last line without its `\n` (a write in progress) is ignored; any other
/// malformed line panics.
pub fn read_journal(path: &Path) -> Vec<JournalLine> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("read journal {}: {e}", path.display()));
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(last) => &bytes[..=last],
        None => &[][..],
    };
    let text = String::from_utf8_lossy(complete);
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            JournalLine::parse(line).unwrap_or_else(|| {
                panic!(
                    "malformed journal line {} in {}: {line:?}",
                    n + 1,
                    path.display()
                )
            })
        })
        .collect()
}

/// A journal in its own temporary directory, removed on drop.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    path: PathBuf,
}

impl Journal {
    /// Creates an empty journal file in a new temporary directory.
    pub fn new() -> Journal {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("ventus-journal-{}-{nanos}-{n}", std::process::id()));
            match fs::create_dir(&dir) {
                Ok(()) => {
                    let path = dir.join("journal.tsv");
                    fs::File::create(&path)
                        .unwrap_or_else(|e| panic!("create journal {}: {e}", path.display()));
                    return Journal { dir, path };
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("create journal dir {}: {e}", dir.display()),
            }
        }
    }

    /// The journal file, to hand to writers (e.g. through an environment
    /// variable of a worker process).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a line from this process.
    pub fn append(&self, kind: &str, id: &str, handler: &str, attempt: u64) {
        append_line(&self.path, kind, id, handler, attempt, std::process::id());
    }

    /// Every complete line written so far, in file order.
    pub fn read(&self) -> Vec<JournalLine> {
        read_journal(&self.path)
    }

    /// How many lines have this `kind`, `id` and `handler`.
    pub fn count(&self, kind: &str, id: &str, handler: &str) -> usize {
        self.read()
            .iter()
            .filter(|l| l.kind == kind && l.id == id && l.handler == handler)
            .count()
    }

    /// The distinct ids of the lines of this `kind`.
    pub fn ids(&self, kind: &str) -> HashSet<String> {
        self.read()
            .into_iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.id)
            .collect()
    }
}

impl Default for Journal {
    fn default() -> Self {
        Journal::new()
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
