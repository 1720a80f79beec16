//! Building a worker: settings, checks, connections.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ventus::{EventEmitter, EventLinker};

use super::decode::{Decode, Json, TypedEvent};
use super::hook::{Completion, CompletionFn, WorkerHook};
use super::{Counters, Shared, Worker};
use crate::conn;
use crate::envelope::Keyring;
use crate::error::ConfigError;
use crate::keys::{Keys, Queue};
use crate::lua::scripts;

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
    settings: Settings,
    linker: Option<EventLinker>,
    queue: String,
    partitions: u16,
    decoders: HashMap<String, Arc<dyn Decode>>,
    on_completion: Option<CompletionFn>,
}

/// The worker's settings, as built and as its tasks read them.
#[derive(Debug)]
pub(super) struct Settings {
    pub(super) url: String,
    pub(super) keyring: Keyring,
    pub(super) window: Option<Duration>,
    pub(super) concurrency: usize,
    pub(super) batch: usize,
    pub(super) block: Duration,
    pub(super) visibility: Duration,
    pub(super) lease: bool,
    pub(super) max_deliveries: u64,
    pub(super) backoff: Vec<Duration>,
    pub(super) reclaim_every: Duration,
    pub(super) shutdown_timeout: Duration,
    pub(super) done_ttl: Duration,
    pub(super) timeout: Duration,
}

impl fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("queue", &self.queue)
            .field("partitions", &self.partitions)
            .field("concurrency", &self.settings.concurrency)
            .field("visibility", &self.settings.visibility)
            .field("max_deliveries", &self.settings.max_deliveries)
            .field("events", &self.decoders.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty = $example:expr) => {
        $(#[$doc])*
        ///
        /// # Examples
        ///
        /// ```
        /// # use std::time::Duration;
        #[doc = concat!(
            "let builder = ventus_redis::Worker::builder(\"redis://127.0.0.1:6379/\")\n    .",
            stringify!($name), "(", stringify!($example), ");"
        )]
        /// # let _ = builder;
        /// ```
        pub fn $name(mut self, value: $ty) -> Self {
            self.settings.$name = value;
            self
        }
    };
}

impl WorkerBuilder {
    /// The defaults of DISTRIBUTED.md, for the server at `url`.
    pub(super) fn new(url: String) -> Self {
        WorkerBuilder {
            settings: Settings {
                url,
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
            },
            linker: None,
            queue: "default".into(),
            partitions: 1,
            decoders: HashMap::new(),
            on_completion: None,
        }
    }

    /// The linker whose handlers run the emissions (default: the global linker).
    ///
    /// # Examples
    ///
    /// ```
    /// let linker = ventus::EventLinker::builder().build().unwrap();
    /// linker.on("ping").subscribe(|| println!("pong")).unwrap();
    /// let builder = ventus_redis::Worker::builder("redis://127.0.0.1:6379/").linker(&linker);
    /// # let _ = builder;
    /// ```
    pub fn linker(mut self, linker: &EventLinker) -> Self {
        self.linker = Some(linker.clone());
        self
    }

    /// Emissions of `event` carry a `T`, the payload its handlers take. Events with no
    /// payload need no decoder.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Clone, serde::Deserialize)]
    /// struct Placed {
    ///     order: u64,
    /// }
    /// let builder = ventus_redis::Worker::builder("redis://127.0.0.1:6379/")
    ///     .decode::<Placed>("order.placed")
    ///     .decode::<u32>("tick");
    /// # let _ = builder;
    /// ```
    pub fn decode<T: DeserializeOwned + Send + Sync + 'static>(mut self, event: &str) -> Self {
        self.decoders.insert(
            event.to_owned(),
            Arc::new(Json::<T>(std::marker::PhantomData)),
        );
        self
    }

    /// Emissions of the typed event `E` (emitted with
    /// [`RedisEmitter::emit_event`](crate::RedisEmitter::emit_event)).
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Clone, serde::Deserialize)]
    /// struct Shipped {
    ///     parcels: u32,
    /// }
    /// impl ventus::Event for Shipped {}
    ///
    /// let builder = ventus_redis::Worker::builder("redis://127.0.0.1:6379/").event::<Shipped>();
    /// # let _ = builder;
    /// ```
    pub fn event<E: ventus::Event + DeserializeOwned>(mut self) -> Self {
        self.decoders.insert(
            E::name().to_owned(),
            Arc::new(TypedEvent::<E>(std::marker::PhantomData)),
        );
        self
    }

    /// Called when a handler's completion is recorded (the first for its emission id).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = ventus_redis::Worker::builder("redis://127.0.0.1:6379/")
    ///     .on_completion(|c| println!("{} done for {} (attempt {})", c.handler, c.id, c.attempt));
    /// # let _ = builder;
    /// ```
    pub fn on_completion(mut self, f: impl Fn(&Completion) + Send + Sync + 'static) -> Self {
        self.on_completion = Some(Arc::new(f));
        self
    }

    /// The queue (default `"default"`).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = ventus_redis::Worker::builder("redis://127.0.0.1:6379/").queue("orders");
    /// # let _ = builder;
    /// ```
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }
    /// The queue's partition count, as its emitters use (default 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = ventus_redis::Worker::builder("redis://127.0.0.1:6379/").partitions(4);
    /// # let _ = builder;
    /// ```
    pub fn partitions(mut self, partitions: u16) -> Self {
        self.partitions = partitions;
        self
    }
    setter!(
        /// The keys envelopes must be signed with (default: unsigned only).
        keyring: Keyring = ventus_redis::Keyring::new("k1", "a-secret-of-32-bytes-or-more-....").unwrap()
    );
    setter!(
        /// Envelopes older (or further in the future) than this are refused as stale
        /// (default `None`: no window).
        window: Option<Duration> = Some(Duration::from_secs(300))
    );
    setter!(
        /// How many emissions run at once (default 16; 1 to 10 000).
        concurrency: usize = 64
    );
    setter!(
        /// How long a read blocks waiting for entries (default 2 s).
        block: Duration = Duration::from_millis(500)
    );
    setter!(
        /// How long an entry may go without its lease renewed before another worker
        /// takes it over (default 30 s).
        visibility: Duration = Duration::from_secs(60)
    );
    setter!(
        /// Renew the lease of running entries every visibility/3 (default on).
        lease: bool = false
    );
    setter!(
        /// Deliveries before an entry goes to the dead letters (default 5).
        max_deliveries: u64 = 3
    );
    setter!(
        /// The wait before each retry of a failed entry, the last repeated (default
        /// 1 s, 5 s, 30 s, 2 min).
        backoff: Vec<Duration> = vec![Duration::from_secs(1), Duration::from_secs(10)]
    );
    setter!(
        /// How often the reclaimer looks for stuck and due entries (default 5 s).
        reclaim_every: Duration = Duration::from_secs(1)
    );
    setter!(
        /// How long shutdown waits for running emissions (default 30 s).
        shutdown_timeout: Duration = Duration::from_secs(10)
    );
    setter!(
        /// How long completion records are kept (default 7 days).
        done_ttl: Duration = Duration::from_secs(24 * 3600)
    );

    /// Connects, creates the consumer groups if missing, and makes the worker.
    ///
    /// # Errors
    ///
    /// [`ConfigError`]: an out-of-range setting, a bad queue name or URL, an
    /// unreachable server.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let worker = ventus_redis::Worker::builder("redis://127.0.0.1:6379/").queue("orders").build().await?;
    /// println!("consumer {}", worker.consumer());
    /// # Ok(()) }
    /// ```
    pub async fn build(self) -> Result<Worker, ConfigError> {
        let queue = Queue::new(&self.queue, self.partitions)?;
        let bad = |setting: &'static str, value: String, reason: &'static str| {
            Err(ConfigError::InvalidSetting {
                setting,
                value,
                reason,
            })
        };
        if !(1..=10_000).contains(&self.settings.concurrency) {
            return bad(
                "concurrency",
                self.settings.concurrency.to_string(),
                "1 to 10 000",
            );
        }
        if self.settings.max_deliveries == 0 {
            return bad("max_deliveries", "0".into(), "at least 1");
        }
        if self.settings.visibility < Duration::from_millis(100) {
            return bad(
                "visibility",
                format!("{:?}", self.settings.visibility),
                "at least 100 ms",
            );
        }
        if self.settings.reclaim_every < Duration::from_millis(10) {
            return bad(
                "reclaim_every",
                format!("{:?}", self.settings.reclaim_every),
                "at least 10 ms",
            );
        }
        if self.settings.block < Duration::from_millis(1)
            || self.settings.block > Duration::from_secs(60)
        {
            return bad(
                "block",
                format!("{:?}", self.settings.block),
                "1 ms to 60 s",
            );
        }
        if self.settings.done_ttl < Duration::from_secs(1) {
            return bad(
                "done_ttl",
                format!("{:?}", self.settings.done_ttl),
                "at least 1 s; keep it longer than an entry can stay pending or dead-lettered",
            );
        }
        if self.settings.backoff.is_empty() {
            return bad("backoff", "[]".into(), "at least one wait");
        }
        let mut cmd = conn::manager(&self.settings.url, self.settings.timeout).await?;
        let unreachable = |source| ConfigError::Unreachable {
            url: self.settings.url.clone(),
            source,
        };
        let keys: Vec<Arc<Keys>> = queue.all_keys().into_iter().map(Arc::new).collect();
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
        let stop = CancellationToken::new();
        let batcher = super::batch::Batcher::start(cmd.clone());
        let hook = WorkerHook {
            conn: cmd.clone(),
            batcher: batcher.clone(),
            consumer: consumer.clone(),
            metrics: metrics.clone(),
            on_completion: self.on_completion,
            stop: stop.clone(),
            done_ttl_ms: self.settings.done_ttl.as_millis().min(i64::MAX as u128) as i64,
        };
        let emitter: EventEmitter = EventEmitter::builder()
            .linker(&linker)
            .handler_hook(hook)
            .build()
            .into();
        let names = (queue.name().into(), consumer.as_str().into());
        let mut settings = self.settings;
        settings.batch = settings.batch.min(settings.concurrency).max(1);
        let permits = Arc::new(Semaphore::new(settings.concurrency));
        let shared = Arc::new(Shared {
            settings,
            queue,
            keys,
            decoders: self.decoders,
            names,
            consumer,
            cmd,
            emitter,
            metrics,
            stop,
            abort: CancellationToken::new(),
            permits,
            running: Mutex::new(HashSet::new()),
            batcher,
            tasks: TaskTracker::new(),
        });
        Ok(Worker { shared })
    }
}

pub(super) fn hostname() -> String {
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
