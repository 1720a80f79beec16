//! The worker: takes remote emissions off a queue's streams and runs them on its own
//! [`EventLinker`](ventus::EventLinker)'s handlers.

mod batch;
mod builder;
mod decode;
mod hook;
mod process;
mod read;
mod reclaim;

use self::builder::Settings;
pub use self::builder::WorkerBuilder;
pub use self::hook::Completion;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use redis::aio::ConnectionManager;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use ventus::EventEmitter;

use self::decode::Decode;
use crate::keys::{Keys, Queue};

use self::read::read_loop;
use self::reclaim::{reclaim_loop, renew_loop};
use crate::stream::{queue_stats, QueueStats};

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
///
/// # Examples
///
/// ```no_run
/// # fn demo(handle: ventus_redis::WorkerHandle) {
/// let m = handle.metrics();
/// assert!(m.acked <= m.received);
/// # }
/// ```
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

/// How a worker's run ended.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(worker: ventus_redis::Worker) {
/// let report = worker.run().await;
/// for entry in &report.left_pending {
///     eprintln!("left pending for another worker: {entry}");
/// }
/// # }
/// ```
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
    settings: Settings,
    queue: Queue,
    keys: Vec<Arc<Keys>>,
    decoders: HashMap<String, Arc<dyn Decode>>,
    consumer: String,
    /// The queue's name and the consumer's, shared by every delivery.
    names: (Arc<str>, Arc<str>),
    cmd: ConnectionManager,
    emitter: EventEmitter,
    metrics: Arc<Counters>,
    stop: CancellationToken,
    /// Cancels the emissions still running at the shutdown deadline.
    abort: CancellationToken,
    permits: Arc<Semaphore>,
    /// Stream entries being processed here.
    /// Stream entries being processed here, as (partition, entry id).
    running: Mutex<HashSet<(usize, String)>>,
    /// Sends completion records and acknowledgements, batched across deliveries.
    batcher: batch::Batcher,
    tasks: TaskTracker,
}

/// Runs the handlers of a queue's remote emissions. See the crate docs for the
/// delivery guarantees.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// linker.on("tick").subscribe(|n: &u32| println!("tick {n}"))?;
/// let worker = ventus_redis::Worker::builder("redis://127.0.0.1:6379/")
///     .linker(&linker)
///     .decode::<u32>("tick")
///     .build()
///     .await?;
/// worker.run().await;
/// # Ok(()) }
/// ```
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
///
/// # Examples
///
/// ```no_run
/// # async fn demo(worker: ventus_redis::Worker) {
/// let handle = worker.handle();
/// tokio::spawn(worker.run_until(std::future::pending()));
/// println!("{:?}", handle.metrics());
/// handle.shutdown();
/// # }
/// ```
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
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(handle: ventus_redis::WorkerHandle) {
    /// handle.shutdown();
    /// # }
    /// ```
    pub fn shutdown(&self) {
        self.shared.stop.cancel();
    }

    /// Counts since the worker started.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(handle: ventus_redis::WorkerHandle) {
    /// let m = handle.metrics();
    /// println!("{} handled, {} retried, {} dead-lettered", m.handled, m.retried, m.dead_lettered);
    /// # }
    /// ```
    pub fn metrics(&self) -> WorkerMetrics {
        self.shared.metrics()
    }

    /// The queue's state on the server.
    ///
    /// # Errors
    ///
    /// The server failed or could not be reached.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(handle: ventus_redis::WorkerHandle) -> redis::RedisResult<()> {
    /// let stats = handle.queue_stats().await?;
    /// println!("{} pending, {} waiting", stats.pending, stats.lag);
    /// # Ok(()) }
    /// ```
    pub async fn queue_stats(&self) -> redis::RedisResult<QueueStats> {
        queue_stats(
            &mut self.shared.cmd.clone(),
            self.shared.keys.iter().map(|k| &**k),
        )
        .await
    }
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
        let i = (attempt.saturating_sub(1) as usize).min(self.settings.backoff.len() - 1);
        self.settings.backoff[i]
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
        WorkerBuilder::new(url.into())
    }

    /// This worker's consumer name: `host-pid-uuid`, new at every start.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(worker: ventus_redis::Worker) {
    /// assert!(worker.consumer().contains(&std::process::id().to_string()));
    /// # }
    /// ```
    pub fn consumer(&self) -> &str {
        &self.shared.consumer
    }

    /// A handle for metrics and shutdown.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(worker: ventus_redis::Worker) {
    /// let handle = worker.handle();
    /// let run = tokio::spawn(worker.run_until(std::future::pending()));
    /// handle.shutdown(); // from anywhere: a signal handler, an admin endpoint
    /// let report = run.await.unwrap();
    /// # let _ = report; }
    /// ```
    pub fn handle(&self) -> WorkerHandle {
        WorkerHandle {
            shared: self.shared.clone(),
        }
    }

    /// Runs until SIGTERM, Ctrl-C or [`WorkerHandle::shutdown`], then shuts down
    /// gracefully.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(worker: ventus_redis::Worker) {
    /// let report = worker.run().await;
    /// eprintln!("{} acked; left pending: {:?}", report.metrics.acked, report.left_pending);
    /// # }
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(worker: ventus_redis::Worker) {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let run = tokio::spawn(worker.run_until(async { let _ = stopped.await; }));
    /// let _ = stop.send(());
    /// let report = run.await.unwrap();
    /// # let _ = report; }
    /// ```
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send) -> WorkerReport {
        let shared = self.shared;
        let span = tracing::info_span!("ventus.worker", queue = shared.queue.name(), consumer = %shared.consumer);
        async {
            tracing::info!("ventus worker started");
            let reader = tokio::spawn(read_loop(shared.clone()));
            let reclaimer = tokio::spawn(reclaim_loop(shared.clone()));
            let renewer = shared.settings.lease.then(|| tokio::spawn(renew_loop(shared.clone())));
            tokio::select! {
                () = signal => shared.stop.cancel(),
                () = shared.stop.cancelled() => {}
            }
            tracing::info!("ventus worker stopping");
            let _ = reader.await;
            let _ = reclaimer.await;
            if let Some(renewer) = renewer {
                renewer.abort();
            }
            let before = shared.metrics();
            shared.tasks.close();
            let finished = tokio::time::timeout(shared.settings.shutdown_timeout, shared.tasks.wait())
                .await
                .is_ok();
            let left_pending: Vec<String> = if finished {
                Vec::new()
            } else {
                let left = shared.running.lock().iter().map(|(_, id)| id.clone()).collect();
                // Cancel what still runs: its handlers are dropped, nothing is acked,
                // and its entries stay pending for other workers.
                shared.abort.cancel();
                shared.tasks.wait().await;
                left
            };
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
    /// The partition.
    part: usize,
    keys: Arc<Keys>,
    id: String,
    fields: Vec<(String, Vec<u8>)>,
    attempt: u64,
}
