//! The worker: takes remote emissions off a queue's streams and runs them on its own
//! [`EventLinker`](ventus::EventLinker)'s handlers.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::streams::{StreamId, StreamReadReply};
use redis::Value;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use ventus::{EmissionReport, EmitError, EventEmitter, EventLinker, HandlerHook, HandlerInfo};

use crate::conn::{self, now_ms};
use crate::delivery::{Delivery, DeliveryState, Keys as HandlerKeys, CURRENT};
use crate::emitter::EmissionId;
use crate::envelope::{Envelope, Keyring};
use crate::error::ConfigError;
use crate::keys::{Keys, Queue, GROUP};
use crate::lua::scripts;
use crate::trace;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Turns a payload's bytes into the type the worker's handlers take, and emits it.
trait Decode: Send + Sync {
    fn emit<'a>(
        &self,
        emitter: &'a EventEmitter,
        event: &'a str,
        payload: &[u8],
    ) -> Result<BoxFuture<'a, Result<EmissionReport, EmitError>>, serde_json::Error>;
}

struct Json<T>(std::marker::PhantomData<fn() -> T>);

impl<T: DeserializeOwned + Send + Sync + 'static> Decode for Json<T> {
    fn emit<'a>(
        &self,
        emitter: &'a EventEmitter,
        event: &'a str,
        payload: &[u8],
    ) -> Result<BoxFuture<'a, Result<EmissionReport, EmitError>>, serde_json::Error> {
        let value: T = serde_json::from_slice(payload)?;
        Ok(Box::pin(emitter.run_with(event, value)))
    }
}

struct TypedEvent<E>(std::marker::PhantomData<fn() -> E>);

impl<E: ventus::Event + DeserializeOwned> Decode for TypedEvent<E> {
    fn emit<'a>(
        &self,
        emitter: &'a EventEmitter,
        _event: &'a str,
        payload: &[u8],
    ) -> Result<BoxFuture<'a, Result<EmissionReport, EmitError>>, serde_json::Error> {
        let value: E = serde_json::from_slice(payload)?;
        Ok(Box::pin(emitter.run_event(value)))
    }
}

/// A handler's completion, recorded for an emission id: the first success of that
/// handler for that id, whichever worker or attempt it came from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Completion {
    /// The emission.
    pub id: EmissionId,
    /// The event.
    pub event: String,
    /// The handler's stable key (`name#n`).
    pub handler: String,
    /// The delivery attempt that completed it.
    pub attempt: u64,
}

type CompletionFn = Arc<dyn Fn(&Completion) + Send + Sync>;

/// Builds a [`Worker`].
///
/// # Examples
///
/// ```no_run
/// use ventus::EventLinker;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("order.placed").subscribe(|order: &u64| println!("order {order}"))?;
///
/// let worker = ventus_redis::Worker::builder("redis://127.0.0.1:6379/")
///     .linker(&linker)
///     .queue("orders")
///     .decode::<u64>("order.placed")
///     .build()
///     .await?;
/// let report = worker.run().await; // until SIGTERM or Ctrl-C
/// println!("{report:?}");
/// # Ok(()) }
/// ```
pub struct WorkerBuilder {
    url: String,
    linker: Option<EventLinker>,
    queue: String,
    partitions: u16,
    keyring: Keyring,
    window: Option<Duration>,
    concurrency: usize,
    batch: usize,
    block: Duration,
    visibility: Duration,
    lease: bool,
    max_deliveries: u64,
    backoff: Vec<Duration>,
    reclaim_every: Duration,
    shutdown_timeout: Duration,
    done_ttl: Duration,
    timeout: Duration,
    decoders: HashMap<String, Arc<dyn Decode>>,
    on_completion: Option<CompletionFn>,
}

impl fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("queue", &self.queue)
            .field("partitions", &self.partitions)
            .field("concurrency", &self.concurrency)
            .field("visibility", &self.visibility)
            .field("max_deliveries", &self.max_deliveries)
            .field("events", &self.decoders.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.$name = value;
            self
        }
    };
}

impl WorkerBuilder {
    /// The linker whose handlers run the emissions (default: the global linker).
    pub fn linker(mut self, linker: &EventLinker) -> Self {
        self.linker = Some(linker.clone());
        self
    }

    /// Emissions of `event` carry a `T`, the payload its handlers take. Events with no
    /// payload need no decoder.
    pub fn decode<T: DeserializeOwned + Send + Sync + 'static>(mut self, event: &str) -> Self {
        self.decoders.insert(
            event.to_owned(),
            Arc::new(Json::<T>(std::marker::PhantomData)),
        );
        self
    }

    /// Emissions of the typed event `E` (emitted with
    /// [`RedisEmitter::emit_event`](crate::RedisEmitter::emit_event)).
    pub fn event<E: ventus::Event + DeserializeOwned>(mut self) -> Self {
        self.decoders.insert(
            E::name().to_owned(),
            Arc::new(TypedEvent::<E>(std::marker::PhantomData)),
        );
        self
    }

    /// Called when a handler's completion is recorded (the first for its emission id).
    pub fn on_completion(mut self, f: impl Fn(&Completion) + Send + Sync + 'static) -> Self {
        self.on_completion = Some(Arc::new(f));
        self
    }

    /// The queue (default `"default"`).
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }
    setter!(
        /// The queue's partition count, as its emitters use (default 1).
        partitions: u16
    );
    setter!(
        /// The keys envelopes must be signed with (default: unsigned only).
        keyring: Keyring
    );
    setter!(
        /// Envelopes older (or further in the future) than this are refused as stale
        /// (default `None`: no window).
        window: Option<Duration>
    );
    setter!(
        /// How many emissions run at once (default 16; 1 to 10 000).
        concurrency: usize
    );
    setter!(
        /// How long a read blocks waiting for entries (default 2 s).
        block: Duration
    );
    setter!(
        /// How long an entry may go without its lease renewed before another worker
        /// takes it over (default 30 s).
        visibility: Duration
    );
    setter!(
        /// Renew the lease of running entries every visibility/3 (default on).
        lease: bool
    );
    setter!(
        /// Deliveries before an entry goes to the dead letters (default 5).
        max_deliveries: u64
    );
    setter!(
        /// The wait before each retry of a failed entry, the last repeated (default
        /// 1 s, 5 s, 30 s, 2 min).
        backoff: Vec<Duration>
    );
    setter!(
        /// How often the reclaimer looks for stuck and due entries (default 5 s).
        reclaim_every: Duration
    );
    setter!(
        /// How long shutdown waits for running emissions (default 30 s).
        shutdown_timeout: Duration
    );
    setter!(
        /// How long completion records are kept (default 7 days).
        done_ttl: Duration
    );

    /// Connects, creates the consumer groups if missing, and makes the worker.
    ///
    /// # Errors
    ///
    /// [`ConfigError`]: an out-of-range setting, a bad queue name or URL, an
    /// unreachable server.
    pub async fn build(self) -> Result<Worker, ConfigError> {
        let queue = Queue::new(&self.queue, self.partitions)?;
        let bad = |setting: &'static str, value: String, reason: &'static str| {
            Err(ConfigError::InvalidSetting {
                setting,
                value,
                reason,
            })
        };
        if !(1..=10_000).contains(&self.concurrency) {
            return bad("concurrency", self.concurrency.to_string(), "1 to 10 000");
        }
        if self.max_deliveries == 0 {
            return bad("max_deliveries", "0".into(), "at least 1");
        }
        if self.visibility < Duration::from_millis(100) {
            return bad(
                "visibility",
                format!("{:?}", self.visibility),
                "at least 100 ms",
            );
        }
        if self.reclaim_every < Duration::from_millis(10) {
            return bad(
                "reclaim_every",
                format!("{:?}", self.reclaim_every),
                "at least 10 ms",
            );
        }
        if self.block < Duration::from_millis(1) || self.block > Duration::from_secs(60) {
            return bad("block", format!("{:?}", self.block), "1 ms to 60 s");
        }
        if self.backoff.is_empty() {
            return bad("backoff", "[]".into(), "at least one wait");
        }
        let mut cmd = conn::manager(&self.url, self.timeout).await?;
        let unreachable = |source| ConfigError::Unreachable {
            url: self.url.clone(),
            source,
        };
        let keys = queue.all_keys();
        for k in &keys {
            conn::ensure_group(&mut cmd, k).await.map_err(unreachable)?;
        }
        scripts().to_dlq.load(&mut cmd).await.map_err(unreachable)?;
        let consumer = format!(
            "{}-{}-{}",
            hostname(),
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        );
        let linker = self.linker.unwrap_or_else(|| EventLinker::global().clone());
        let metrics = Arc::new(Counters::default());
        let records = TaskTracker::new();
        let stop = CancellationToken::new();
        let hook = WorkerHook {
            conn: cmd.clone(),
            records: records.clone(),
            consumer: consumer.clone(),
            metrics: metrics.clone(),
            on_completion: self.on_completion,
            stop: stop.clone(),
        };
        let emitter: EventEmitter = EventEmitter::builder()
            .linker(&linker)
            .detailed_reports(true)
            .handler_hook(hook)
            .build()
            .into();
        let shared = Arc::new(Shared {
            url: self.url,
            queue,
            keys,
            keyring: self.keyring,
            window: self.window,
            concurrency: self.concurrency,
            batch: self.batch.min(self.concurrency).max(1),
            block: self.block,
            visibility: self.visibility,
            lease: self.lease,
            max_deliveries: self.max_deliveries,
            backoff: self.backoff,
            reclaim_every: self.reclaim_every,
            shutdown_timeout: self.shutdown_timeout,
            done_ttl: self.done_ttl,
            timeout: self.timeout,
            decoders: self.decoders,
            consumer,
            cmd,
            emitter,
            metrics,
            records,
            stop,
            abort: CancellationToken::new(),
            permits: Arc::new(Semaphore::new(self.concurrency)),
            running: Mutex::new(HashSet::new()),
            tasks: TaskTracker::new(),
        });
        Ok(Worker { shared })
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// Counters behind [`WorkerMetrics`].
#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    handled: AtomicU64,
    acked: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
    rejected: AtomicU64,
    lost_to_trim: AtomicU64,
    reclaimed: AtomicU64,
}

/// What a worker has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Deliveries taken (read, reclaimed or retried).
    pub received: u64,
    /// Handler completions recorded (the first for their emission id).
    pub handled: u64,
    /// Entries acknowledged: every handler done.
    pub acked: u64,
    /// Failed deliveries scheduled for a retry.
    pub retried: u64,
    /// Entries moved to the dead letters.
    pub dead_lettered: u64,
    /// Of those, envelopes refused before any handler ran (signature, version, window).
    pub rejected: u64,
    /// Pending entries found deleted by trimming (also counted by emitters at the trim).
    pub lost_to_trim: u64,
    /// Entries taken over from other consumers after their visibility ran out.
    pub reclaimed: u64,
}

/// A queue's state on the server: what waits and what runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStats {
    /// Entries delivered and not yet acknowledged, over all partitions.
    pub pending: u64,
    /// Entries not yet delivered to the group, over all partitions.
    pub lag: u64,
    /// Entries deleted by the cap before they were finished, as counted at the trims.
    pub lost_to_trim: u64,
    /// Dead letters.
    pub dead_letters: u64,
}

/// How a worker's run ended.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct WorkerReport {
    /// Counts over the whole run.
    pub metrics: WorkerMetrics,
    /// Emissions that finished during the shutdown wait.
    pub finished_at_shutdown: u64,
    /// Stream entries still running at the deadline, left pending for other workers.
    pub left_pending: Vec<String>,
}

struct Shared {
    url: String,
    queue: Queue,
    keys: Vec<Keys>,
    keyring: Keyring,
    window: Option<Duration>,
    concurrency: usize,
    batch: usize,
    block: Duration,
    visibility: Duration,
    lease: bool,
    max_deliveries: u64,
    backoff: Vec<Duration>,
    reclaim_every: Duration,
    shutdown_timeout: Duration,
    done_ttl: Duration,
    timeout: Duration,
    decoders: HashMap<String, Arc<dyn Decode>>,
    consumer: String,
    cmd: ConnectionManager,
    emitter: EventEmitter,
    metrics: Arc<Counters>,
    records: TaskTracker,
    stop: CancellationToken,
    /// Cancels the emissions still running at the shutdown deadline.
    abort: CancellationToken,
    permits: Arc<Semaphore>,
    /// Stream entries being processed here.
    running: Mutex<HashSet<String>>,
    tasks: TaskTracker,
}

/// Runs the handlers of a queue's remote emissions. See the crate docs for the
/// delivery guarantees.
pub struct Worker {
    shared: Arc<Shared>,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("queue", &self.shared.queue.name())
            .field("consumer", &self.shared.consumer)
            .finish_non_exhaustive()
    }
}

/// A handle to a running worker: metrics and shutdown. Cheap to clone.
#[derive(Clone)]
pub struct WorkerHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("consumer", &self.shared.consumer)
            .finish_non_exhaustive()
    }
}

impl WorkerHandle {
    /// Asks the worker to stop: it stops reading, waits for what runs (up to its
    /// shutdown timeout), acks what finished and leaves the rest pending.
    pub fn shutdown(&self) {
        self.shared.stop.cancel();
    }

    /// Counts since the worker started.
    pub fn metrics(&self) -> WorkerMetrics {
        self.shared.metrics()
    }

    /// The queue's state on the server.
    ///
    /// # Errors
    ///
    /// The server failed or could not be reached.
    pub async fn queue_stats(&self) -> redis::RedisResult<QueueStats> {
        queue_stats(&mut self.shared.cmd.clone(), &self.shared.keys).await
    }
}

/// Reads the pending, lag, lost and dead-letter counts of `keys`.
pub(crate) async fn queue_stats(
    conn: &mut ConnectionManager,
    keys: &[Keys],
) -> redis::RedisResult<QueueStats> {
    let mut stats = QueueStats::default();
    for k in keys {
        let groups: redis::streams::StreamInfoGroupsReply = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(k.stream())
            .query_async(conn)
            .await?;
        for g in groups.groups.iter().filter(|g| g.name == GROUP) {
            stats.pending += g.pending as u64;
            stats.lag += g.lag.unwrap_or(0) as u64;
        }
        let lost: Option<u64> = redis::cmd("GET").arg(k.lost()).query_async(conn).await?;
        stats.lost_to_trim += lost.unwrap_or(0);
        let dlq: u64 = redis::cmd("XLEN").arg(k.dlq()).query_async(conn).await?;
        stats.dead_letters += dlq;
    }
    Ok(stats)
}

impl Shared {
    fn metrics(&self) -> WorkerMetrics {
        let m = &self.metrics;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WorkerMetrics {
            received: get(&m.received),
            handled: get(&m.handled),
            acked: get(&m.acked),
            retried: get(&m.retried),
            dead_lettered: get(&m.dead_lettered),
            rejected: get(&m.rejected),
            lost_to_trim: get(&m.lost_to_trim),
            reclaimed: get(&m.reclaimed),
        }
    }

    fn backoff(&self, attempt: u64) -> Duration {
        let i = (attempt.saturating_sub(1) as usize).min(self.backoff.len() - 1);
        self.backoff[i]
    }
}

impl Worker {
    /// Starts a builder for the server at `url`.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = ventus_redis::Worker::builder("redis://127.0.0.1:6379/").queue("orders");
    /// # let _ = builder;
    /// ```
    pub fn builder(url: impl Into<String>) -> WorkerBuilder {
        WorkerBuilder {
            url: url.into(),
            linker: None,
            queue: "default".into(),
            partitions: 1,
            keyring: Keyring::unsigned(),
            window: None,
            concurrency: 16,
            batch: 64,
            block: Duration::from_secs(2),
            visibility: Duration::from_secs(30),
            lease: true,
            max_deliveries: 5,
            backoff: vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
                Duration::from_secs(120),
            ],
            reclaim_every: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(30),
            done_ttl: Duration::from_secs(7 * 24 * 3600),
            timeout: Duration::from_secs(2),
            decoders: HashMap::new(),
            on_completion: None,
        }
    }

    /// This worker's consumer name: `host-pid-uuid`, new at every start.
    pub fn consumer(&self) -> &str {
        &self.shared.consumer
    }

    /// A handle for metrics and shutdown.
    pub fn handle(&self) -> WorkerHandle {
        WorkerHandle {
            shared: self.shared.clone(),
        }
    }

    /// Runs until SIGTERM, Ctrl-C or [`WorkerHandle::shutdown`], then shuts down
    /// gracefully.
    pub async fn run(self) -> WorkerReport {
        let signal = async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                match signal(SignalKind::terminate()) {
                    Ok(mut term) => {
                        tokio::select! {
                            _ = term.recv() => {}
                            _ = tokio::signal::ctrl_c() => {}
                        }
                    }
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
        };
        self.run_until(signal).await
    }

    /// Runs until `signal` completes or [`WorkerHandle::shutdown`] is called, then
    /// shuts down gracefully.
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send) -> WorkerReport {
        let shared = self.shared;
        let span = tracing::info_span!("ventus.worker", queue = shared.queue.name(), consumer = %shared.consumer);
        async {
            tracing::info!("ventus worker started");
            let reader = tokio::spawn(read_loop(shared.clone()));
            let reclaimer = tokio::spawn(reclaim_loop(shared.clone()));
            tokio::select! {
                () = signal => shared.stop.cancel(),
                () = shared.stop.cancelled() => {}
            }
            tracing::info!("ventus worker stopping");
            let _ = reader.await;
            let _ = reclaimer.await;
            let before = shared.metrics();
            shared.tasks.close();
            let finished = tokio::time::timeout(shared.shutdown_timeout, shared.tasks.wait())
                .await
                .is_ok();
            let left_pending: Vec<String> = if finished {
                Vec::new()
            } else {
                let left = shared.running.lock().iter().cloned().collect();
                // Cancel what still runs: its handlers are dropped, nothing is acked,
                // and its entries stay pending for other workers.
                shared.abort.cancel();
                shared.tasks.wait().await;
                left
            };
            shared.records.close();
            let _ = tokio::time::timeout(shared.timeout, shared.records.wait()).await;
            let after = shared.metrics();
            if !left_pending.is_empty() {
                tracing::warn!(
                    left = left_pending.len(),
                    "ventus worker stopped with emissions still running; they stay pending for other workers"
                );
            }
            WorkerReport {
                metrics: after,
                finished_at_shutdown: after.acked.saturating_sub(before.acked),
                left_pending,
            }
        }
        .instrument(span)
        .await
    }
}

/// One stream entry to process.
struct Entry {
    keys: Keys,
    id: String,
    fields: Vec<(String, Vec<u8>)>,
    attempt: u64,
}

pub(crate) fn fields_of(s: &StreamId) -> Vec<(String, Vec<u8>)> {
    s.map
        .iter()
        .map(|(k, v)| {
            let bytes = match v {
                Value::BulkString(b) => b.clone(),
                Value::SimpleString(s) => s.clone().into_bytes(),
                Value::Int(n) => n.to_string().into_bytes(),
                _ => Vec::new(),
            };
            (k.clone(), bytes)
        })
        .collect()
}

async fn read_loop(shared: Arc<Shared>) {
    let mut reader: Option<MultiplexedConnection> = None;
    let mut wait = Duration::from_millis(50);
    while !shared.stop.is_cancelled() {
        // Room for at least one more emission before reading; the places are taken
        // per entry after the read, so the reclaimer is never starved of them while a
        // read blocks.
        tokio::select! {
            p = shared.permits.acquire() => match p { Ok(p) => drop(p), Err(_) => return },
            () = shared.stop.cancelled() => return,
        }
        let room = shared.permits.available_permits().clamp(1, shared.batch);
        let conn = match &mut reader {
            Some(c) => c,
            None => match conn::reader(&shared.url, shared.block, shared.timeout).await {
                Ok(c) => reader.insert(c),
                Err(e) => {
                    tracing::warn!(error = %e, "ventus worker cannot reach Redis; retrying");
                    backoff_wait(&shared, &mut wait).await;
                    continue;
                }
            },
        };
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(&shared.consumer)
            .arg("COUNT")
            .arg(room)
            .arg("BLOCK")
            .arg(shared.block.as_millis() as u64)
            .arg("STREAMS");
        for k in &shared.keys {
            cmd.arg(k.stream());
        }
        for _ in &shared.keys {
            cmd.arg(">");
        }
        let reply = tokio::select! {
            r = cmd.query_async::<Option<StreamReadReply>>(conn) => r,
            () = shared.stop.cancelled() => return,
        };
        match reply {
            Ok(reply) => {
                wait = Duration::from_millis(50);
                for stream in reply.map(|r| r.keys).unwrap_or_default() {
                    let Some(keys) = shared.keys.iter().find(|k| k.stream() == stream.key) else {
                        continue;
                    };
                    for s in stream.ids {
                        // Delivered to this worker: it runs even during a shutdown.
                        let Ok(permit) = shared.permits.clone().acquire_owned().await else {
                            return;
                        };
                        let entry = Entry {
                            keys: keys.clone(),
                            fields: fields_of(&s),
                            id: s.id,
                            attempt: 1,
                        };
                        spawn_process(&shared, entry, permit);
                    }
                }
            }
            Err(e) => {
                if e.code() == Some("NOGROUP") {
                    // The server lost the stream (restarted without persistence).
                    let mut cmd_conn = shared.cmd.clone();
                    for k in &shared.keys {
                        let _ = conn::ensure_group(&mut cmd_conn, k).await;
                    }
                } else {
                    tracing::warn!(error = %e, "ventus worker read failed; reconnecting");
                    reader = None;
                }
                backoff_wait(&shared, &mut wait).await;
            }
        }
    }
}

/// Waits `wait` (or until stop), then doubles it up to one second: the pause between
/// reconnect attempts while the broker is down.
async fn backoff_wait(shared: &Shared, wait: &mut Duration) {
    tokio::select! {
        () = tokio::time::sleep(*wait) => {}
        () = shared.stop.cancelled() => {}
    }
    *wait = (*wait * 2).min(Duration::from_secs(1));
}

fn spawn_process(shared: &Arc<Shared>, entry: Entry, permit: tokio::sync::OwnedSemaphorePermit) {
    shared.metrics.received.fetch_add(1, Ordering::Relaxed);
    shared.running.lock().insert(entry.id.clone());
    let s = shared.clone();
    shared.tasks.spawn(async move {
        let id = entry.id.clone();
        tokio::select! {
            () = process(&s, entry) => {}
            () = s.abort.cancelled() => {}
        }
        s.running.lock().remove(&id);
        drop(permit);
    });
}

/// What became of one delivery.
enum Ended {
    Acked,
    Retry(String),
    Dead {
        reason: &'static str,
        error: String,
    },
    /// Left pending: the server could not be told (it will be redelivered).
    Left,
}

async fn process(shared: &Arc<Shared>, entry: Entry) {
    let mut cmd = shared.cmd.clone();
    if entry.fields.is_empty() {
        // Trimmed while pending: nothing left to run. The trim was counted by the
        // emitter that made room; clear it from the pending list.
        shared.metrics.lost_to_trim.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(entry = %entry.id, "ventus entry was trimmed before it was handled");
        let _ = ack(&mut cmd, &entry).await;
        return;
    }
    let envelope = match Envelope::open(&entry.fields, &shared.keyring, shared.window, now_ms()) {
        Ok(e) => e,
        Err(rejection) => {
            shared.metrics.rejected.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(entry = %entry.id, reason = rejection.reason(), "ventus envelope refused: {rejection}");
            to_dlq(
                shared,
                &mut cmd,
                &entry,
                rejection.reason(),
                &rejection.to_string(),
            )
            .await;
            return;
        }
    };
    let tp = envelope.traceparent().map(str::to_owned);
    let span = tracing::info_span!(
        "ventus.remote",
        event = envelope.event(),
        emission = %envelope.id(),
        attempt = entry.attempt,
        trace_id = tp.as_deref().and_then(trace::trace_id),
        parent_span = tp.as_deref().and_then(trace::span_id),
    );
    let ended = run_delivery(shared, &mut cmd, &entry, &envelope, tp)
        .instrument(span.clone())
        .await;
    let _entered = span.enter();
    match ended {
        Ended::Acked => {}
        Ended::Left => {}
        Ended::Retry(error) => {
            if entry.attempt >= shared.max_deliveries {
                to_dlq(shared, &mut cmd, &entry, "failed", &error).await;
            } else {
                let due = now_ms() + shared.backoff(entry.attempt).as_millis() as u64;
                let done = entry.keys.done(&envelope.id().hyphenated().to_string());
                let r: redis::RedisResult<()> = redis::pipe()
                    .hset(&done, "!error", &error)
                    .ignore()
                    .pexpire(&done, shared.done_ttl.as_millis() as i64)
                    .ignore()
                    .zadd(entry.keys.retry(), &entry.id, due)
                    .ignore()
                    .query_async(&mut cmd)
                    .await;
                match r {
                    Ok(()) => {
                        shared.metrics.retried.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(error = %error, "ventus delivery failed; retry scheduled");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "ventus retry could not be scheduled; the entry stays pending")
                    }
                }
            }
        }
        Ended::Dead { reason, error } => to_dlq(shared, &mut cmd, &entry, reason, &error).await,
    }
}

async fn run_delivery(
    shared: &Arc<Shared>,
    cmd: &mut ConnectionManager,
    entry: &Entry,
    envelope: &Envelope,
    tp: Option<String>,
) -> Ended {
    let id = envelope.id().hyphenated().to_string();
    let done_key = entry.keys.done(&id);
    let done: HashMap<String, String> = match redis::cmd("HGETALL")
        .arg(&done_key)
        .query_async(cmd)
        .await
    {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "ventus cannot read completion records; the entry stays pending");
            return Ended::Left;
        }
    };
    let decode = shared.decoders.get(envelope.event()).cloned();
    let payload_is_unit = matches!(envelope.payload(), b"null" | b"");
    let state = Arc::new(DeliveryState {
        delivery: Delivery {
            id: EmissionId(envelope.id()),
            event: envelope.event().into(),
            attempt: entry.attempt,
            entry: entry.id.as_str().into(),
            queue: shared.queue.name().into(),
            consumer: shared.consumer.as_str().into(),
            traceparent: tp.map(Into::into),
        },
        done: done.into_keys().filter(|k| !k.starts_with('!')).collect(),
        done_key: done_key.clone(),
        keys: Mutex::new(HandlerKeys::default()),
        records: Mutex::new(Vec::new()),
    });
    // Dropped with this future, however it ends: the renewals stop.
    let lease = shared
        .lease
        .then(|| spawn_lease(shared, entry).drop_guard());
    let emitter = &shared.emitter;
    let event = envelope.event();
    let run = async {
        match &decode {
            Some(decode) => match decode.emit(emitter, event, envelope.payload()) {
                Ok(fut) => Ok(fut.await),
                Err(e) => Err(e),
            },
            None if payload_is_unit => Ok(emitter.run(event).await),
            None => Ok(Err(EmitError::Processor(
                format!("this worker has no decoder for event `{event}`; add `.decode::<T>(\"{event}\")` to its builder").into(),
            ))),
        }
    };
    let result = CURRENT.scope(state.clone(), run).await;
    drop(lease);
    // Every completion record sent must have landed before the ack.
    let records: Vec<_> = std::mem::take(&mut *state.records.lock());
    let mut recorded = true;
    for r in records {
        match r.await {
            Ok(Ok(_)) => {}
            _ => recorded = false,
        }
    }
    let report = match result {
        Err(e) => {
            return Ended::Dead {
                reason: "undecodable",
                error: format!("the payload of `{event}` does not deserialise: {e}"),
            }
        }
        Ok(Err(e)) => return Ended::Retry(e.to_string()),
        Ok(Ok(report)) => report,
    };
    if !recorded {
        tracing::warn!(
            "ventus completion records could not all be written; the entry stays pending"
        );
        return Ended::Left;
    }
    let counts = report.counts();
    if counts.failed > 0 || counts.cancelled > 0 {
        let error = report
            .handlers()
            .iter()
            .find_map(|h| match &h.outcome {
                ventus::Outcome::Failed(e) => Some(e.to_string()),
                ventus::Outcome::Cancelled => Some("a handler was cancelled".to_owned()),
                _ => None,
            })
            .unwrap_or_else(|| "a handler failed".into());
        return Ended::Retry(error);
    }
    if counts.total() == 0 && state.done.is_empty() {
        tracing::warn!(event, "ventus worker has no handler for this event; acked");
    }
    let r: redis::RedisResult<()> = redis::pipe()
        .xack(entry.keys.stream(), GROUP, &[&entry.id])
        .ignore()
        .zrem(entry.keys.retry(), &entry.id)
        .ignore()
        .pexpire(&done_key, shared.done_ttl.as_millis() as i64)
        .ignore()
        .query_async(cmd)
        .await;
    match r {
        Ok(()) => {
            shared.metrics.acked.fetch_add(1, Ordering::Relaxed);
            Ended::Acked
        }
        Err(e) => {
            tracing::warn!(error = %e, "ventus ack failed; the entry will be redelivered and its finished handlers skipped");
            Ended::Left
        }
    }
}

/// Renews the entry's lease every visibility/3 until cancelled.
fn spawn_lease(shared: &Arc<Shared>, entry: &Entry) -> CancellationToken {
    let token = CancellationToken::new();
    let stop = token.clone();
    let mut cmd = shared.cmd.clone();
    let stream = entry.keys.stream();
    let id = entry.id.clone();
    let consumer = shared.consumer.clone();
    let every = shared.visibility / 3;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.cancelled() => return,
            }
            let r: redis::RedisResult<Value> = redis::cmd("XCLAIM")
                .arg(&stream)
                .arg(GROUP)
                .arg(&consumer)
                .arg(0)
                .arg(&id)
                .arg("JUSTID")
                .query_async(&mut cmd)
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, entry = %id, "ventus lease renewal failed");
            }
        }
    });
    token
}

async fn ack(cmd: &mut ConnectionManager, entry: &Entry) -> redis::RedisResult<()> {
    redis::cmd("XACK")
        .arg(entry.keys.stream())
        .arg(GROUP)
        .arg(&entry.id)
        .query_async(cmd)
        .await
}

async fn to_dlq(
    shared: &Arc<Shared>,
    cmd: &mut ConnectionManager,
    entry: &Entry,
    reason: &str,
    error: &str,
) {
    let mut c = scripts()
        .to_dlq
        .cmd(&[&entry.keys.stream(), &entry.keys.dlq()]);
    c.arg(&entry.id)
        .arg(reason)
        .arg(entry.attempt)
        .arg(error)
        .arg(now_ms());
    for (k, v) in &entry.fields {
        c.arg(k).arg(&v[..]);
    }
    match scripts().to_dlq.run::<_, Value>(cmd, &c).await {
        Ok(_) => {
            let _ = redis::cmd("ZREM")
                .arg(entry.keys.retry())
                .arg(&entry.id)
                .query_async::<Value>(cmd)
                .await;
            shared.metrics.dead_lettered.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(entry = %entry.id, reason, attempts = entry.attempt, error, "ventus entry moved to the dead letters");
        }
        Err(e) => {
            tracing::warn!(error = %e, entry = %entry.id, "ventus could not move the entry to the dead letters; it stays pending")
        }
    }
}

async fn reclaim_loop(shared: Arc<Shared>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(shared.reclaim_every) => {}
            () = shared.stop.cancelled() => return,
        }
        for keys in shared.keys.clone() {
            if let Err(e) = reclaim(&shared, &keys).await {
                tracing::warn!(error = %e, "ventus reclaim pass failed");
            }
        }
    }
}

/// One pass: retries that are due, then entries whose visibility ran out.
async fn reclaim(shared: &Arc<Shared>, keys: &Keys) -> redis::RedisResult<()> {
    let mut cmd = shared.cmd.clone();
    let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
        .arg(keys.retry())
        .arg("-inf")
        .arg(now_ms())
        .arg("LIMIT")
        .arg(0)
        .arg(shared.concurrency)
        .query_async(&mut cmd)
        .await?;
    for id in due {
        if shared.stop.is_cancelled() {
            return Ok(());
        }
        let won: u64 = redis::cmd("ZREM")
            .arg(keys.retry())
            .arg(&id)
            .query_async(&mut cmd)
            .await?;
        if won == 0 {
            continue; // another worker took it
        }
        claim_and_process(shared, &mut cmd, keys, &id, 0).await?;
    }
    let idle = shared.visibility.as_millis() as u64;
    let pending: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
        .arg(keys.stream())
        .arg(GROUP)
        .arg("IDLE")
        .arg(idle)
        .arg("-")
        .arg("+")
        .arg(shared.concurrency)
        .query_async(&mut cmd)
        .await?;
    for p in pending.ids {
        if shared.stop.is_cancelled() {
            return Ok(());
        }
        if shared.running.lock().contains(&p.id) {
            continue;
        }
        let waiting: Option<f64> = redis::cmd("ZSCORE")
            .arg(keys.retry())
            .arg(&p.id)
            .query_async(&mut cmd)
            .await?;
        if waiting.is_some() {
            continue; // a failed entry waiting for its backoff
        }
        let delivered = p.times_delivered as u64;
        if delivered >= shared.max_deliveries {
            let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                .arg(keys.stream())
                .arg(&p.id)
                .arg(&p.id)
                .query_async(&mut cmd)
                .await?;
            let fields = entries.ids.first().map(fields_of).unwrap_or_default();
            let entry = Entry {
                keys: keys.clone(),
                id: p.id.clone(),
                fields,
                attempt: delivered,
            };
            if entry.fields.is_empty() {
                shared.metrics.lost_to_trim.fetch_add(1, Ordering::Relaxed);
                ack(&mut cmd, &entry).await?;
                continue;
            }
            let error = last_error(&mut cmd, keys, &entry).await;
            to_dlq(shared, &mut cmd, &entry, "max-deliveries", &error).await;
            continue;
        }
        claim_and_process(shared, &mut cmd, keys, &p.id, idle).await?;
    }
    Ok(())
}

/// The last error recorded for the entry's emission, or why it is taken to have failed.
async fn last_error(cmd: &mut ConnectionManager, keys: &Keys, entry: &Entry) -> String {
    let id = Envelope::parse(&entry.fields).map(|e| e.id().hyphenated().to_string());
    let recorded: Option<String> = match id {
        Ok(id) => redis::cmd("HGET")
            .arg(keys.done(&id))
            .arg("!error")
            .query_async(cmd)
            .await
            .ok()
            .flatten(),
        Err(_) => None,
    };
    recorded.unwrap_or_else(|| {
        "no worker finished it: each delivery ended without an ack (a crash, a kill, or a \
         handler longer than the visibility without a lease)"
            .into()
    })
}

/// Claims entry `id` if it has been idle at least `min_idle` ms, and processes it.
async fn claim_and_process(
    shared: &Arc<Shared>,
    cmd: &mut ConnectionManager,
    keys: &Keys,
    id: &str,
    min_idle: u64,
) -> redis::RedisResult<()> {
    let permit = tokio::select! {
        p = shared.permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return Ok(()) },
        () = shared.stop.cancelled() => return Ok(()),
    };
    let claimed: redis::streams::StreamClaimReply = redis::cmd("XCLAIM")
        .arg(keys.stream())
        .arg(GROUP)
        .arg(&shared.consumer)
        .arg(min_idle)
        .arg(id)
        .query_async(cmd)
        .await?;
    let Some(s) = claimed.ids.into_iter().next() else {
        // Another worker claimed it first, or it was trimmed (XCLAIM then drops it
        // from the pending list).
        return Ok(());
    };
    let info: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
        .arg(keys.stream())
        .arg(GROUP)
        .arg(id)
        .arg(id)
        .arg(1)
        .query_async(cmd)
        .await?;
    let attempt = info.ids.first().map_or(1, |p| p.times_delivered as u64);
    if min_idle > 0 {
        shared.metrics.reclaimed.fetch_add(1, Ordering::Relaxed);
    }
    let entry = Entry {
        keys: keys.clone(),
        fields: fields_of(&s),
        id: s.id,
        attempt,
    };
    spawn_process(shared, entry, permit);
    Ok(())
}

/// The worker's [`HandlerHook`]: skips handlers already recorded as done for the
/// emission id, and records each success the moment it happens.
struct WorkerHook {
    conn: ConnectionManager,
    records: TaskTracker,
    consumer: String,
    metrics: Arc<Counters>,
    on_completion: Option<CompletionFn>,
    stop: CancellationToken,
}

/// Writes a handler's completion record (`HSETNX`) and says whether this write made
/// it, i.e. whether this is the first completion of that handler for the emission.
///
/// The record holds a token unique to this write and is read back in the same
/// pipeline, so the answer stays right when it is sent again: if Redis went away
/// after the write landed but before its reply arrived, the retry finds its own token
/// and reports the completion, once. Retries until Redis answers or the worker stops.
async fn record_completion(
    conn: &mut ConnectionManager,
    done_key: &str,
    key: &str,
    consumer: &str,
    stop: &CancellationToken,
) -> redis::RedisResult<bool> {
    let token = format!("{consumer}/{}", uuid::Uuid::now_v7().simple());
    let mut wait = Duration::from_millis(50);
    loop {
        let r: redis::RedisResult<(String,)> = redis::pipe()
            .cmd("HSETNX")
            .arg(done_key)
            .arg(key)
            .arg(&token)
            .ignore()
            .cmd("HGET")
            .arg(done_key)
            .arg(key)
            .query_async(conn)
            .await;
        match r {
            Ok((holder,)) => return Ok(holder == token),
            Err(e) if stop.is_cancelled() => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "ventus completion record not confirmed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stop.cancelled() => {}
                }
                wait = (wait * 2).min(Duration::from_secs(1));
            }
        }
    }
}

impl HandlerHook for WorkerHook {
    fn admit(&self, handler: &HandlerInfo<'_>) -> bool {
        CURRENT
            .try_with(|s| {
                let key = s
                    .keys
                    .lock()
                    .key_of(handler.subscription(), handler.handler());
                !s.done.contains(&key)
            })
            .unwrap_or(true)
    }

    fn ended(&self, handler: &HandlerInfo<'_>, outcome: &ventus::Outcome) {
        if !outcome.is_success() {
            return;
        }
        let _ = CURRENT.try_with(|s| {
            let key = s
                .keys
                .lock()
                .key_of(handler.subscription(), handler.handler());
            let d = &s.delivery;
            let done_key = s.done_key.clone();
            let mut conn = self.conn.clone();
            let metrics = self.metrics.clone();
            let consumer = self.consumer.clone();
            let on_completion = self.on_completion.clone();
            let stop = self.stop.clone();
            let completion = Completion {
                id: d.id,
                event: d.event.to_string(),
                handler: key.clone(),
                attempt: d.attempt,
            };
            let task = self.records.spawn(async move {
                let first = record_completion(&mut conn, &done_key, &key, &consumer, &stop).await?;
                if first {
                    metrics.handled.fetch_add(1, Ordering::Relaxed);
                    if let Some(f) = &on_completion {
                        let call = std::panic::AssertUnwindSafe(|| f(&completion));
                        if std::panic::catch_unwind(call).is_err() {
                            tracing::error!("ventus worker's on_completion callback panicked");
                        }
                    }
                }
                Ok(first)
            });
            s.records.lock().push(task);
        });
    }
}
