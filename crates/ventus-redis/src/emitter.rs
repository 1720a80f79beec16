//! The remote emitter: emissions go onto a Redis stream, to be run by workers.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use serde::Serialize;
use tracing::Instrument;
use uuid::Uuid;

use crate::conn::{self, now_ms};
use crate::envelope::{Envelope, Keyring};
use crate::error::{ConfigError, RemoteEmitError};
pub(crate) use crate::id::EmissionId;
use crate::keys::{Keys, Queue};
use crate::lua::{is_noscript, scripts};
use crate::trace;

/// The longest event name a remote emission may carry, in bytes.
pub const MAX_EVENT_LEN: usize = 256;

/// The default stream cap: large, a safety net rather than a queue length.
pub const DEFAULT_MAX_LEN: u64 = 1_000_000;

/// Builds a [`RedisEmitter`].
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let emitter = ventus_redis::RedisEmitter::builder("redis://127.0.0.1:6379/")
///     .queue("orders")
///     .partitions(4)
///     .build()
///     .await?;
/// # let _ = emitter; Ok(()) }
/// ```
#[derive(Debug)]
pub struct RedisEmitterBuilder {
    url: String,
    queue: String,
    partitions: u16,
    keyring: Keyring,
    max_len: u64,
    strict: bool,
    timeout: Duration,
}

impl RedisEmitterBuilder {
    /// The queue to emit to (default `"default"`); workers of the same queue run them.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = ventus_redis::RedisEmitter::builder("redis://127.0.0.1:6379/").queue("orders");
    /// # let _ = b;
    /// ```
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// Splits the queue into `n` streams (default 1); workers must use the same count.
    /// [`emit_keyed`](RedisEmitter::emit_keyed) keeps one key's emissions on one
    /// stream, in order; other emissions go round-robin.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = ventus_redis::RedisEmitter::builder("redis://127.0.0.1:6379/").partitions(8);
    /// # let _ = b;
    /// ```
    pub fn partitions(mut self, n: u16) -> Self {
        self.partitions = n;
        self
    }

    /// The keys to sign with (default: unsigned).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = ventus_redis::RedisEmitter::builder("redis://127.0.0.1:6379/").keyring(ventus_redis::Keyring::new("k1", "a-secret-of-32-bytes-or-more-....").unwrap());
    /// # let _ = b;
    /// ```
    pub fn keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = keyring;
        self
    }

    /// The stream cap (default [`DEFAULT_MAX_LEN`]). At the cap the oldest entries are
    /// deleted, and those not finished are counted as lost-to-trim; or, with
    /// [`strict`](Self::strict), the emission is refused.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = ventus_redis::RedisEmitter::builder("redis://127.0.0.1:6379/").max_len(10_000_000);
    /// # let _ = b;
    /// ```
    pub fn max_len(mut self, cap: u64) -> Self {
        self.max_len = cap;
        self
    }

    /// Refuse emissions at the cap ([`RemoteEmitError::Full`]) instead of trimming.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = ventus_redis::RedisEmitter::builder("redis://127.0.0.1:6379/").max_len(100_000).strict(true);
    /// # let _ = b;
    /// ```
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// How long an emit waits for Redis before it fails (default 2 s; 10 ms to 60 s).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = ventus_redis::RedisEmitter::builder("redis://127.0.0.1:6379/").timeout(std::time::Duration::from_millis(500));
    /// # let _ = b;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects, creates each stream's consumer group if it is missing, and makes the
    /// emitter.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a bad queue name, partition count, cap or timeout, a URL that
    /// does not parse, or a server that cannot be reached (within about the timeout).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let emitter = ventus_redis::RedisEmitter::builder("redis://127.0.0.1:6379/").build().await?;
    /// # let _ = emitter; Ok(()) }
    /// ```
    pub async fn build(self) -> Result<RedisEmitter, ConfigError> {
        let queue = Queue::new(&self.queue, self.partitions)?;
        if self.max_len == 0 {
            return Err(ConfigError::InvalidSetting {
                setting: "max_len",
                value: "0".into(),
                reason: "the cap must be at least 1",
            });
        }
        if !(Duration::from_millis(10)..=Duration::from_secs(60)).contains(&self.timeout) {
            return Err(ConfigError::InvalidSetting {
                setting: "timeout",
                value: format!("{:?}", self.timeout),
                reason: "between 10 ms and 60 s",
            });
        }
        let mut conn = conn::manager(&self.url, self.timeout).await?;
        let unreachable = |source| ConfigError::Unreachable {
            url: self.url.clone(),
            source,
        };
        let keys = queue.all_keys();
        for k in &keys {
            conn::ensure_group(&mut conn, k)
                .await
                .map_err(unreachable)?;
        }
        let script = if self.strict {
            &scripts().strict_emit
        } else {
            &scripts().trim
        };
        script.load(&mut conn).await.map_err(unreachable)?;
        let streams = keys
            .iter()
            .map(|k| (k.stream().to_owned(), k.lost().to_owned()))
            .collect();
        Ok(RedisEmitter {
            inner: Arc::new(Inner {
                conn,
                queue,
                streams,
                keyring: self.keyring,
                max_len: self.max_len,
                strict: self.strict,
                timeout: self.timeout,
                next: AtomicU64::new(0),
                emitted: AtomicU64::new(0),
                failed: AtomicU64::new(0),
            }),
        })
    }
}

/// Emits to a Redis stream; workers elsewhere run the handlers. Cheap to clone.
///
/// Each emit resolves once Redis replied: `Ok(id)` means the emission is on the stream
/// and will be handled (at least once); an `Err` says what failed, and only
/// [`RemoteEmitError::Ambiguous`] may have enqueued it anyway.
///
/// # Examples
///
/// ```no_run
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// struct Placed {
///     order: u64,
/// }
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let emitter = ventus_redis::RedisEmitter::builder("redis://127.0.0.1:6379/")
///     .queue("orders")
///     .build()
///     .await?;
/// let id = emitter.emit_with("order.placed", &Placed { order: 42 }).await?;
/// println!("enqueued {id}");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisEmitter {
    inner: Arc<Inner>,
}

struct Inner {
    conn: ConnectionManager,
    queue: Queue,
    /// Each partition's stream and lost counter.
    streams: Vec<(String, String)>,
    keyring: Keyring,
    max_len: u64,
    strict: bool,
    timeout: Duration,
    next: AtomicU64,
    emitted: AtomicU64,
    failed: AtomicU64,
}

/// What a [`RedisEmitter`] has done.
///
/// # Examples
///
/// ```no_run
/// # fn demo(emitter: ventus_redis::RedisEmitter) {
/// let ventus_redis::RemoteEmitterMetrics { emitted, failed, .. } = emitter.metrics();
/// # let _ = (emitted, failed); }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoteEmitterMetrics {
    /// Emissions Redis accepted.
    pub emitted: u64,
    /// Emit calls that returned an error.
    pub failed: u64,
}

/// One prepared emission: where it goes and its fields.
struct Prepared {
    id: EmissionId,
    partition: usize,
    fields: Vec<(&'static str, Vec<u8>)>,
}

impl RedisEmitter {
    /// Starts a builder for the server at `url` (`redis://host:port/db`).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = ventus_redis::RedisEmitter::builder("redis://127.0.0.1:6379/").queue("jobs");
    /// # let _ = builder;
    /// ```
    pub fn builder(url: impl Into<String>) -> RedisEmitterBuilder {
        RedisEmitterBuilder {
            url: url.into(),
            queue: "default".into(),
            partitions: 1,
            keyring: Keyring::unsigned(),
            max_len: DEFAULT_MAX_LEN,
            strict: false,
            timeout: Duration::from_secs(2),
        }
    }

    /// The queue's name.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(emitter: ventus_redis::RedisEmitter) {
    /// println!("emitting to {}", emitter.queue());
    /// # }
    /// ```
    pub fn queue(&self) -> &str {
        self.inner.queue.name()
    }

    /// Counts of what this emitter (and its clones) did.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(emitter: ventus_redis::RedisEmitter) {
    /// let m = emitter.metrics();
    /// println!("{} emitted, {} failed", m.emitted, m.failed);
    /// # }
    /// ```
    pub fn metrics(&self) -> RemoteEmitterMetrics {
        RemoteEmitterMetrics {
            emitted: self.inner.emitted.load(Ordering::Relaxed),
            failed: self.inner.failed.load(Ordering::Relaxed),
        }
    }

    /// Emits `event` with no payload (handlers that take none run).
    ///
    /// # Errors
    ///
    /// As [`emit_with`](Self::emit_with).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(emitter: ventus_redis::RedisEmitter) -> Result<(), ventus_redis::RemoteEmitError> {
    /// emitter.emit("cache.flush").await?; // handlers that take no payload run
    /// # Ok(()) }
    /// ```
    pub async fn emit(&self, event: &str) -> Result<EmissionId, RemoteEmitError> {
        self.emit_with(event, &()).await
    }

    /// Emits `event` with `payload`, serialised to JSON; resolves once Redis replied.
    ///
    /// # Errors
    ///
    /// [`RemoteEmitError`]: a bad event name, a payload that does not serialise, a
    /// server that is down (within the timeout, about 2 s), a full strict stream.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(emitter: ventus_redis::RedisEmitter) -> Result<(), ventus_redis::RemoteEmitError> {
    /// let id = emitter.emit_with("user.signed_up", "ada@example.com").await?;
    /// println!("{id}");
    /// # Ok(()) }
    /// ```
    pub async fn emit_with<T: Serialize + ?Sized>(
        &self,
        event: &str,
        payload: &T,
    ) -> Result<EmissionId, RemoteEmitError> {
        let partition = self.round_robin();
        let prepared = self.prepare(event, payload, partition);
        self.send_one(event, prepared).await
    }

    /// Emits a typed event (its name is [`ventus::Event::name`]).
    ///
    /// # Errors
    ///
    /// As [`emit_with`](Self::emit_with).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// #[derive(serde::Serialize)]
    /// struct Shipped {
    ///     parcels: u32,
    /// }
    /// impl ventus::Event for Shipped {}
    ///
    /// # async fn demo(emitter: ventus_redis::RedisEmitter) -> Result<(), ventus_redis::RemoteEmitError> {
    /// emitter.emit_event(&Shipped { parcels: 2 }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn emit_event<E: ventus::Event + Serialize>(
        &self,
        event: &E,
    ) -> Result<EmissionId, RemoteEmitError> {
        self.emit_with(E::name(), event).await
    }

    /// Emits on the partition `key` maps to, so emissions with one key are handled in
    /// the order they were emitted (by one worker at a time, with `concurrency(1)`).
    ///
    /// # Errors
    ///
    /// As [`emit_with`](Self::emit_with).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(emitter: ventus_redis::RedisEmitter) -> Result<(), ventus_redis::RemoteEmitError> {
    /// // Every step of order 42 goes to one stream, and is handled in this order.
    /// emitter.emit_keyed("order-42", "order.paid", &42_u64).await?;
    /// emitter.emit_keyed("order-42", "order.shipped", &42_u64).await?;
    /// # Ok(()) }
    /// ```
    pub async fn emit_keyed<T: Serialize + ?Sized>(
        &self,
        key: &str,
        event: &str,
        payload: &T,
    ) -> Result<EmissionId, RemoteEmitError> {
        let prepared = self.prepare(event, payload, self.partition_of(key));
        self.send_one(event, prepared).await
    }

    /// Starts a batch: emissions added to it go to Redis in one pipeline.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(emitter: ventus_redis::RedisEmitter) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut batch = emitter.batch();
    /// for n in 0..100_u32 {
    ///     batch.add("tick", &n)?;
    /// }
    /// let ids = batch.send().await?;
    /// assert_eq!(ids.len(), 100);
    /// # Ok(()) }
    /// ```
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            emitter: self,
            items: Vec::new(),
        }
    }

    fn round_robin(&self) -> usize {
        let n = self.inner.streams.len();
        if n == 1 {
            0
        } else {
            (self.inner.next.fetch_add(1, Ordering::Relaxed) % n as u64) as usize
        }
    }

    fn partition_of(&self, key: &str) -> usize {
        // FNV-1a: stable across processes and builds, unlike the std hasher.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        (h % self.inner.streams.len() as u64) as usize
    }

    fn prepare<T: Serialize + ?Sized>(
        &self,
        event: &str,
        payload: &T,
        partition: usize,
    ) -> Result<Prepared, RemoteEmitError> {
        check_event(event)?;
        let payload = serde_json::to_vec(payload).map_err(|source| RemoteEmitError::Serialize {
            event: event.to_owned(),
            source,
        })?;
        let id = Uuid::now_v7();
        let mut envelope = Envelope::new(
            id,
            event,
            now_ms(),
            "application/json",
            payload,
            Some(trace::traceparent()),
        );
        envelope.sign(&self.inner.keyring);
        Ok(Prepared {
            id: EmissionId(id),
            partition,
            fields: envelope.to_fields(),
        })
    }

    /// Adds `p` to `pipe`: a strict emitter's checked add (one script), or a plain
    /// `XADD`.
    fn push_emit(&self, pipe: &mut redis::Pipeline, p: &Prepared) {
        let stream = &self.inner.streams[p.partition].0;
        let mut cmd = if self.inner.strict {
            let mut cmd = scripts().strict_emit.cmd(&[stream]);
            cmd.arg(self.inner.max_len);
            cmd
        } else {
            let mut cmd = redis::cmd("XADD");
            cmd.arg(stream).arg("*");
            cmd
        };
        for (k, v) in &p.fields {
            cmd.arg(*k).arg(&v[..]);
        }
        pipe.add_command(cmd);
    }

    /// Sends `items` in one pipeline and waits for every reply; then trims each stream
    /// that went over its cap, counting what that loses. A server error in the middle
    /// leaves the entries before it enqueued.
    async fn send(&self, items: &[Prepared]) -> Result<(), RemoteEmitError> {
        let mut conn = self.inner.conn.clone();
        let started = Instant::now();
        let mut loaded = false;
        loop {
            let mut pipe = redis::pipe();
            // Server errors come back as values, in place: each item is judged alone.
            pipe.ignore_errors();
            for p in items {
                self.push_emit(&mut pipe, p);
            }
            // Without strict mode, one `XLEN` per stream the batch added to, after its
            // adds, tells whether a trim is due.
            let mut touched = vec![false; self.inner.streams.len()];
            if !self.inner.strict {
                for p in items {
                    touched[p.partition] = true;
                }
                for (partition, _) in touched.iter().enumerate().filter(|(_, t)| **t) {
                    pipe.cmd("XLEN").arg(&self.inner.streams[partition].0);
                }
            }
            let reply = tokio::time::timeout(
                self.inner.timeout,
                pipe.query_async::<Vec<redis::Value>>(&mut conn),
            )
            .await;
            let values = match reply {
                Ok(Ok(values)) => values,
                Ok(Err(e)) if is_noscript(&e) && !loaded => {
                    scripts()
                        .strict_emit
                        .load(&mut conn)
                        .await
                        .map_err(|e| RemoteEmitError::from_redis(e, started.elapsed()))?;
                    loaded = true;
                    continue;
                }
                Ok(Err(e)) => return Err(self.sort(e, items[0].partition, started.elapsed())),
                Err(_) => {
                    return Err(RemoteEmitError::Ambiguous {
                        waited: started.elapsed(),
                        source: None,
                    })
                }
            };
            let noscript = values
                .iter()
                .any(|v| matches!(v, redis::Value::ServerError(e) if e.code() == "NOSCRIPT"));
            if noscript && !loaded {
                // The server lost its scripts (a restart): none of them ran.
                scripts()
                    .strict_emit
                    .load(&mut conn)
                    .await
                    .map_err(|e| RemoteEmitError::from_redis(e, started.elapsed()))?;
                loaded = true;
                continue;
            }
            let (adds, lens) = values.split_at(items.len().min(values.len()));
            for (value, p) in adds.iter().zip(items) {
                if let redis::Value::ServerError(e) = value {
                    let e: redis::RedisError = e.clone().into();
                    return Err(self.sort(e, p.partition, started.elapsed()));
                }
            }
            let mut over = vec![false; self.inner.streams.len()];
            let partitions = touched
                .iter()
                .enumerate()
                .filter(|(_, t)| **t)
                .map(|(n, _)| n);
            for (partition, len) in partitions.zip(lens) {
                if let redis::Value::Int(len) = len {
                    over[partition] = *len as u64 > self.inner.max_len;
                }
            }
            for (partition, _) in over.iter().enumerate().filter(|(_, o)| **o) {
                self.trim(&mut conn, partition).await;
            }
            return Ok(());
        }
    }

    /// Trims partition `partition` down to the cap, counting the unfinished entries it
    /// deletes as lost (and logging them). The emission that found the stream over its
    /// cap is enqueued either way: a failed trim is logged and left to the next emit.
    async fn trim(&self, conn: &mut ConnectionManager, partition: usize) {
        let (stream, lost) = &self.inner.streams[partition];
        let lua = &scripts().trim;
        let mut cmd = lua.cmd(&[stream, lost]);
        cmd.arg(self.inner.max_len);
        match lua.run::<_, u64>(conn, &cmd).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                stream = %stream, lost = n, cap = self.inner.max_len,
                "ventus stream over its cap: unfinished entries deleted and counted as lost"
            ),
            Err(e) => tracing::warn!(stream = %stream, error = %e, "ventus stream trim failed"),
        }
    }

    async fn send_one(
        &self,
        event: &str,
        prepared: Result<Prepared, RemoteEmitError>,
    ) -> Result<EmissionId, RemoteEmitError> {
        let span = tracing::debug_span!("ventus.remote_emit", event, queue = self.queue());
        let result = async {
            let p = prepared?;
            self.send(std::slice::from_ref(&p)).await.map(|()| p.id)
        }
        .instrument(span)
        .await;
        self.count(&result, 1);
        result
    }

    fn sort(&self, e: redis::RedisError, partition: usize, waited: Duration) -> RemoteEmitError {
        if e.code() == Some("VENTUSFULL") {
            let len = e
                .detail()
                .and_then(|d| d.trim().parse().ok())
                .unwrap_or(self.inner.max_len);
            return RemoteEmitError::Full {
                stream: self.inner.streams[partition].0.clone(),
                len,
            };
        }
        RemoteEmitError::from_redis(e, waited)
    }

    fn count<T>(&self, result: &Result<T, RemoteEmitError>, n: u64) {
        match result {
            Ok(_) => self.inner.emitted.fetch_add(n, Ordering::Relaxed),
            Err(_) => self.inner.failed.fetch_add(1, Ordering::Relaxed),
        };
    }

    /// The queue's state on the server: pending, lag, lost-to-trim, dead letters.
    ///
    /// # Errors
    ///
    /// The server failed or could not be reached.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(emitter: ventus_redis::RedisEmitter) -> redis::RedisResult<()> {
    /// let stats = emitter.queue_stats().await?;
    /// if stats.lost_to_trim > 0 {
    ///     eprintln!("{} emissions were trimmed before they were handled", stats.lost_to_trim);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn queue_stats(&self) -> redis::RedisResult<crate::QueueStats> {
        let keys: Vec<Keys> = self.inner.queue.all_keys();
        crate::stream::queue_stats(&mut self.inner.conn.clone(), &keys).await
    }
}

impl fmt::Debug for RedisEmitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisEmitter")
            .field("queue", &self.inner.queue.name())
            .field("partitions", &self.inner.queue.partitions())
            .field("max_len", &self.inner.max_len)
            .field("strict", &self.inner.strict)
            .finish_non_exhaustive()
    }
}

fn check_event(event: &str) -> Result<(), RemoteEmitError> {
    let bad = |reason| {
        Err(RemoteEmitError::InvalidEvent {
            event: event.to_owned(),
            reason,
        })
    };
    if event.is_empty() {
        return bad("the name is empty; give the event a name");
    }
    if event.len() > MAX_EVENT_LEN {
        return bad("the name is longer than 256 bytes");
    }
    Ok(())
}

/// Emissions sent to Redis together, in one pipeline. Made by [`RedisEmitter::batch`].
///
/// # Examples
///
/// ```no_run
/// # async fn demo(emitter: ventus_redis::RedisEmitter) -> Result<(), ventus_redis::RemoteEmitError> {
/// let mut batch = emitter.batch();
/// batch.add("a", &1_u8)?;
/// batch.add_keyed("user-7", "b", &2_u8)?;
/// batch.send().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Batch<'a> {
    emitter: &'a RedisEmitter,
    items: Vec<Prepared>,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared").field("id", &self.id).finish()
    }
}

impl Batch<'_> {
    /// Adds an emission (round-robin over partitions); returns its id.
    ///
    /// # Errors
    ///
    /// A bad event name or a payload that does not serialise; the batch is unchanged.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(emitter: ventus_redis::RedisEmitter) -> Result<(), ventus_redis::RemoteEmitError> {
    /// let mut batch = emitter.batch();
    /// let id = batch.add("tick", &1_u32)?;
    /// # let _ = id; Ok(()) }
    /// ```
    pub fn add<T: Serialize + ?Sized>(
        &mut self,
        event: &str,
        payload: &T,
    ) -> Result<EmissionId, RemoteEmitError> {
        let partition = self.emitter.round_robin();
        let p = self.emitter.prepare(event, payload, partition)?;
        let id = p.id;
        self.items.push(p);
        Ok(id)
    }

    /// Adds an emission on `key`'s partition; returns its id.
    ///
    /// # Errors
    ///
    /// As [`add`](Self::add).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(emitter: ventus_redis::RedisEmitter) -> Result<(), ventus_redis::RemoteEmitError> {
    /// let mut batch = emitter.batch();
    /// batch.add_keyed("order-42", "order.paid", &42_u64)?;
    /// # Ok(()) }
    /// ```
    pub fn add_keyed<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        event: &str,
        payload: &T,
    ) -> Result<EmissionId, RemoteEmitError> {
        let p = self
            .emitter
            .prepare(event, payload, self.emitter.partition_of(key))?;
        let id = p.id;
        self.items.push(p);
        Ok(id)
    }

    /// How many emissions the batch holds.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(emitter: ventus_redis::RedisEmitter) {
    /// let mut batch = emitter.batch();
    /// batch.add("tick", &1_u32).unwrap();
    /// assert_eq!(batch.len(), 1);
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the batch is empty.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(emitter: ventus_redis::RedisEmitter) {
    /// assert!(emitter.batch().is_empty());
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sends every emission in one pipeline; resolves once Redis replied to all.
    ///
    /// # Errors
    ///
    /// The first error. A connection error or a timeout leaves the whole batch's fate
    /// open ([`RemoteEmitError::Ambiguous`]) or unsent ([`RemoteEmitError::Unreachable`]);
    /// a server error for one emission (a full strict stream) fails the call while the
    /// others of the batch were enqueued. Emitting again makes new emissions with new
    /// ids: after an ambiguous error, a handler may then run for both.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(emitter: ventus_redis::RedisEmitter) -> Result<(), ventus_redis::RemoteEmitError> {
    /// let mut batch = emitter.batch();
    /// for n in 0..10_u32 {
    ///     batch.add("tick", &n)?;
    /// }
    /// let ids = batch.send().await?;
    /// assert_eq!(ids.len(), 10);
    /// # Ok(()) }
    /// ```
    pub async fn send(self) -> Result<Vec<EmissionId>, RemoteEmitError> {
        let emitter = self.emitter;
        let n = self.items.len() as u64;
        if n == 0 {
            return Ok(Vec::new());
        }
        let result = emitter
            .send(&self.items)
            .await
            .map(|()| self.items.iter().map(|p| p.id).collect());
        emitter.count(&result, n);
        result
    }
}
