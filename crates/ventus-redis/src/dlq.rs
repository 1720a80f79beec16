//! Dead letters as an API: list, show, replay, discard.

use std::fmt;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::StreamRangeReply;

use crate::conn;
use crate::envelope::{Envelope, Rejection};
use crate::error::{ConfigError, DeadLetterError};
use crate::keys::{Keys, Queue};
use crate::lua::scripts;

/// One dead letter: the envelope, why it is here, and how many deliveries it had.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(dlq: ventus_redis::DeadLetters) -> Result<(), Box<dyn std::error::Error>> {
/// for letter in dlq.list(10).await? {
///     if letter.reason == "undecodable" {
///         eprintln!("{}: {}", letter.id, letter.payload_text().unwrap_or("(binary)"));
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The dead letter's id (an entry id of the dead-letter stream).
    pub id: String,
    /// The partition it came from.
    pub partition: u16,
    /// The stream entry id it had.
    pub entry: String,
    /// Why: `failed`, `max-deliveries`, `undecodable`, or an envelope rejection
    /// (`bad-signature`, `unknown-key`, `unsigned`, `unexpected-signature`, `stale`,
    /// `version`, `malformed`).
    pub reason: String,
    /// Deliveries it had.
    pub attempts: u64,
    /// The last error.
    pub error: String,
    /// When it was moved here, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The envelope, read without verification; `Err` if it does not parse.
    pub envelope: Result<Envelope, Rejection>,
}

impl DeadLetter {
    /// The payload as text, if it is UTF-8.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(dlq: ventus_redis::DeadLetters) -> Result<(), Box<dyn std::error::Error>> {
    /// let letter = dlq.show("1700000000000-0").await?;
    /// println!("{}", letter.payload_text().unwrap_or("(not UTF-8)"));
    /// # Ok(()) }
    /// ```
    pub fn payload_text(&self) -> Option<&str> {
        self.envelope
            .as_ref()
            .ok()
            .and_then(|e| std::str::from_utf8(e.payload()).ok())
    }
}

/// The dead letters of one queue.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let dlq = ventus_redis::DeadLetters::connect("redis://127.0.0.1:6379/", "orders", 1).await?;
/// for letter in dlq.list(100).await? {
///     println!("{} {} after {} attempts: {}", letter.id, letter.reason, letter.attempts, letter.error);
///     dlq.replay(&letter.id).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DeadLetters {
    conn: ConnectionManager,
    queue: Queue,
}

impl fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetters")
            .field("queue", &self.queue.name())
            .finish_non_exhaustive()
    }
}

impl DeadLetters {
    /// Connects to the dead letters of `queue` (with its partition count).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let dlq = ventus_redis::DeadLetters::connect("redis://127.0.0.1:6379/", "orders", 1).await?;
    /// # let _ = dlq; Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// A bad queue name or URL, or an unreachable server.
    pub async fn connect(url: &str, queue: &str, partitions: u16) -> Result<Self, ConfigError> {
        let queue = Queue::new(queue, partitions)?;
        let conn = conn::manager(url, Duration::from_secs(2)).await?;
        Ok(Self { conn, queue })
    }

    /// The queue's state: pending, lag, lost-to-trim, dead letters.
    ///
    /// # Errors
    ///
    /// [`DeadLetterError::UnknownQueue`] if the queue has no stream; a Redis failure.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(dlq: ventus_redis::DeadLetters) -> Result<(), Box<dyn std::error::Error>> {
    /// let stats = dlq.queue_stats().await?;
    /// println!("{} pending, {} dead letters", stats.pending, stats.dead_letters);
    /// # Ok(()) }
    /// ```
    pub async fn queue_stats(&self) -> Result<crate::QueueStats, DeadLetterError> {
        self.check_queue().await?;
        let keys = self.queue.all_keys();
        Ok(crate::stream::queue_stats(&mut self.conn.clone(), &keys).await?)
    }

    async fn check_queue(&self) -> Result<(), DeadLetterError> {
        let mut conn = self.conn.clone();
        let exists: u64 = redis::cmd("EXISTS")
            .arg(self.queue.keys(0).stream())
            .query_async(&mut conn)
            .await?;
        if exists == 0 {
            return Err(DeadLetterError::UnknownQueue(self.queue.name().to_owned()));
        }
        Ok(())
    }

    /// Up to `limit` dead letters, oldest first, over all partitions.
    ///
    /// # Errors
    ///
    /// [`DeadLetterError::UnknownQueue`] if the queue has no stream; a Redis failure.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(dlq: ventus_redis::DeadLetters) -> Result<(), Box<dyn std::error::Error>> {
    /// for letter in dlq.list(50).await? {
    ///     println!("{} {}", letter.id, letter.reason);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, DeadLetterError> {
        self.check_queue().await?;
        let mut conn = self.conn.clone();
        let mut out = Vec::new();
        for n in 0..self.queue.partitions() {
            let keys = self.queue.keys(n);
            let reply: StreamRangeReply = redis::cmd("XRANGE")
                .arg(keys.dlq())
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(limit)
                .query_async(&mut conn)
                .await?;
            out.extend(reply.ids.iter().map(|s| letter(n, s)));
        }
        out.sort_by(|a, b| (a.at_ms, &a.id).cmp(&(b.at_ms, &b.id)));
        out.truncate(limit);
        Ok(out)
    }

    /// One dead letter.
    ///
    /// # Errors
    ///
    /// [`DeadLetterError::NotFound`] if no partition has it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(dlq: ventus_redis::DeadLetters) -> Result<(), Box<dyn std::error::Error>> {
    /// let letter = dlq.show("1700000000000-0").await?;
    /// println!("{} after {} attempts: {}", letter.reason, letter.attempts, letter.error);
    /// # Ok(()) }
    /// ```
    pub async fn show(&self, id: &str) -> Result<DeadLetter, DeadLetterError> {
        let (n, _) = self.find(id).await?;
        let mut conn = self.conn.clone();
        let reply: StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.queue.keys(n).dlq())
            .arg(id)
            .arg(id)
            .query_async(&mut conn)
            .await?;
        reply
            .ids
            .first()
            .map(|s| letter(n, s))
            .ok_or_else(|| DeadLetterError::NotFound(id.to_owned()))
    }

    /// Puts a dead letter back on its stream, as a new entry with the same emission id
    /// (so handlers that finished before are still skipped); returns the new entry id.
    ///
    /// # Errors
    ///
    /// [`DeadLetterError::NotFound`] if no partition has it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(dlq: ventus_redis::DeadLetters) -> Result<(), Box<dyn std::error::Error>> {
    /// let entry = dlq.replay("1700000000000-0").await?;
    /// println!("back on the stream as {entry}");
    /// # Ok(()) }
    /// ```
    pub async fn replay(&self, id: &str) -> Result<String, DeadLetterError> {
        let (_, keys) = self.find(id).await?;
        let mut conn = self.conn.clone();
        let mut cmd = scripts().replay.cmd(&[keys.dlq(), keys.stream()]);
        cmd.arg(id);
        let new: Option<String> = scripts().replay.run(&mut conn, &cmd).await?;
        new.ok_or_else(|| DeadLetterError::NotFound(id.to_owned()))
    }

    /// Deletes a dead letter.
    ///
    /// # Errors
    ///
    /// [`DeadLetterError::NotFound`] if no partition has it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(dlq: ventus_redis::DeadLetters) -> Result<(), Box<dyn std::error::Error>> {
    /// dlq.discard("1700000000000-0").await?;
    /// # Ok(()) }
    /// ```
    pub async fn discard(&self, id: &str) -> Result<(), DeadLetterError> {
        let (_, keys) = self.find(id).await?;
        let mut conn = self.conn.clone();
        let removed: u64 = redis::cmd("XDEL")
            .arg(keys.dlq())
            .arg(id)
            .query_async(&mut conn)
            .await?;
        if removed == 0 {
            return Err(DeadLetterError::NotFound(id.to_owned()));
        }
        Ok(())
    }

    async fn find(&self, id: &str) -> Result<(u16, Keys), DeadLetterError> {
        self.check_queue().await?;
        if !is_entry_id(id) {
            return Err(DeadLetterError::NotFound(id.to_owned()));
        }
        let mut conn = self.conn.clone();
        for n in 0..self.queue.partitions() {
            let keys = self.queue.keys(n);
            let reply: StreamRangeReply = redis::cmd("XRANGE")
                .arg(keys.dlq())
                .arg(id)
                .arg(id)
                .query_async(&mut conn)
                .await?;
            if !reply.ids.is_empty() {
                return Ok((n, keys));
            }
        }
        Err(DeadLetterError::NotFound(id.to_owned()))
    }
}

/// `ms-seq`, as stream entry ids are.
fn is_entry_id(id: &str) -> bool {
    let mut parts = id.split('-');
    let digits =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
}

fn letter(partition: u16, s: &redis::streams::StreamId) -> DeadLetter {
    let fields = crate::stream::fields_of(s);
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    DeadLetter {
        id: s.id.clone(),
        partition,
        entry: get("entry"),
        reason: get("reason"),
        attempts: get("attempts").parse().unwrap_or(0),
        error: get("error"),
        at_ms: get("at_ms").parse().unwrap_or(0),
        envelope: Envelope::parse(&fields),
    }
}
