//! ventus on Redis Streams: emissions that leave the process, handled by worker
//! processes, at least once, with nothing lost — Pyventus's `CeleryEventEmitter`,
//! `RQEventEmitter` and `RedisProcessingService`.
//!
//! Rust cannot ship closures, so the wire carries the **event name and a serde
//! payload** (JSON). A [`RedisEmitter`] puts emissions on a queue's stream; a
//! [`Worker`] process holds its own [`EventLinker`](ventus::EventLinker) — the same
//! `on(..).subscribe(..)` and `#[ventus::on]` code as in-process — and runs the
//! handlers linked there, which take `DeserializeOwned` payloads.
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use ventus::EventLinker;
//! use ventus_redis::{RedisEmitter, Worker};
//!
//! #[derive(Clone, Serialize, Deserialize)]
//! struct Placed {
//!     order: u64,
//! }
//!
//! # async fn emitting_service() -> Result<(), Box<dyn std::error::Error>> {
//! // The emitting service.
//! let emitter = RedisEmitter::builder("redis://127.0.0.1:6379/").queue("orders").build().await?;
//! let id = emitter.emit_with("order.placed", &Placed { order: 42 }).await?; // Redis has it
//! # let _ = id; Ok(()) }
//!
//! # async fn worker_process() -> Result<(), Box<dyn std::error::Error>> {
//! // A worker process (run as many as you like).
//! let linker = EventLinker::builder().build()?;
//! linker.on("order.placed").name("invoice").subscribe(|p: &Placed| println!("invoice {}", p.order))?;
//! let worker = Worker::builder("redis://127.0.0.1:6379/")
//!     .linker(&linker)
//!     .queue("orders")
//!     .decode::<Placed>("order.placed")
//!     .build()
//!     .await?;
//! let report = worker.run().await; // until SIGTERM or Ctrl-C, then a graceful shutdown
//! eprintln!("left pending for others: {}", report.left_pending.len());
//! # Ok(()) }
//! ```
//!
//! `cargo run -p ventus-redis --example distributed` runs it all in one command: a
//! private `redis-server`, two worker processes, 1 000 emissions, and the check
//! `1000 handled, 0 duplicates, 0 lost`.
//!
//! # Delivery guarantees, exactly
//!
//! - **`Ok` means enqueued.** [`RedisEmitter::emit_with`] resolves after Redis replied
//!   to the `XADD`. `Ok(id)` means the entry is on the stream; an `Err` means it is not,
//!   except [`RemoteEmitError::Ambiguous`] (sent, no reply in time), which may have
//!   been enqueued. A broker that is down gives an `Err` within the emitter's timeout
//!   (2 s by default), never a hang.
//! - **At-least-once delivery.** An entry stays pending in the consumer group until a
//!   worker acknowledged it, which it does only after every handler linked to the
//!   event succeeded. A worker that dies (crash, `kill -9`, a handler that aborts)
//!   leaves its entries pending; after `visibility` (30 s by default) without a lease
//!   renewal, another worker's reclaimer takes them over.
//! - **One completion per handler per emission id.** Each handler's success is
//!   recorded, the moment it happens, in the hash `ventus:{queue}:done:<id>` with
//!   `HSETNX`; a redelivered entry runs only the handlers not recorded there. A handler
//!   is known by its name and its place among same-named handlers of the event
//!   (`name#0`, `name#1`, …): give closures a stable name with
//!   [`SubscribeBuilder::name`](ventus::SubscribeBuilder::name), and keep the linking
//!   order when you deploy new workers.
//! - **What is not exactly-once.** A handler that finished but whose worker died
//!   before its record reached Redis runs again; a handler longer than `visibility`
//!   with the lease off (or whose worker is partitioned from Redis) can run twice at
//!   once, and only one of the two is recorded. Side effects outside Redis should be
//!   idempotent, keyed by [`Delivery::id`].
//! - **Failures retry, then dead-letter.** A failed handler (an error, a panic, a
//!   timeout) fails the delivery; it is retried after a backoff (1 s, 5 s, 30 s, 2 min
//!   by default), and after `max_deliveries` (5) deliveries the entry moves to the
//!   dead letters with the reason, the attempts and the last error. An entry whose
//!   worker keeps dying is dead-lettered the same way (`max-deliveries`), so a poison
//!   message cannot crash-loop a fleet.
//! - **Nothing is lost silently.** Envelopes refused before any handler runs (bad or
//!   missing signature, unknown key, stale, unknown version) go to the dead letters
//!   after one delivery, with that reason. Entries deleted by the stream cap before
//!   they were finished are counted (`lost_to_trim` in [`QueueStats`]) and logged; or
//!   [`RedisEmitterBuilder::strict`] refuses emits at the cap.
//!
//! # Signed envelopes (v1)
//!
//! With a [`Keyring`], emitters sign each envelope with HMAC-SHA256 and workers verify
//! it — key id known, time window, constant-time tag compare — **before** the payload
//! is deserialised. Several keys may be held at once for rotation: add the new key to
//! workers, then sign with it on emitters, then drop the old one. The format, the
//! signed bytes and a test vector are in [`envelope`].
//!
//! # Dead letters
//!
//! [`DeadLetters`] lists, shows (the decoded envelope, reason, attempts, last error),
//! replays (back on the stream as a new entry with the same emission id, so finished
//! handlers stay skipped) and discards them; the `ventus-redis` binary does the same
//! from a shell: `ventus-redis --queue orders dlq list`.
//!
//! # Keys
//!
//! | key | what |
//! |---|---|
//! | `ventus:{q}:s` | the stream; consumer group `ventus`, created at id `0` by emitters and workers |
//! | `ventus:{q}:dlq` | dead letters |
//! | `ventus:{q}:done:<id>` | completion records of one emission (TTL 7 days by default) |
//! | `ventus:{q}:retry` | failed entries waiting for their backoff (sorted by due time) |
//! | `ventus:{q}:lost` | entries deleted by the cap before they were finished |
//!
//! A partitioned queue (`partitions(n)`) has these per partition with the tag `{q:k}`.
//! The `{…}` hash tag keeps one stream's keys in one cluster slot, so the Lua moves
//! stay atomic. A worker reads all its partitions in one `XREADGROUP`, which a Redis
//! Cluster refuses when they live in different slots: against a cluster, use one
//! partition per queue (and several queues), or give each worker one partition's queue.
//!
//! # Tracing and metrics
//!
//! Each envelope carries a W3C `traceparent`; the worker's `ventus.remote` span records
//! its `trace_id` and `parent_span`, and emissions made inside a worker's handlers keep
//! the trace id. [`WorkerHandle::metrics`] counts received, handled, acked, retried,
//! dead-lettered, rejected, lost-to-trim and reclaimed; [`WorkerHandle::queue_stats`]
//! reads pending, lag, lost-to-trim and dead letters from the server.
//!
//! # Production notes
//!
//! - **Durability is Redis's.** Run Redis with AOF (`appendonly yes`): `appendfsync
//!   everysec` can lose about one second of acknowledged emits on a crash; `always`
//!   loses none, at a cost in throughput. Without persistence, a restart loses the queue.
//! - **Replication is asynchronous**: an `XADD` acknowledged by a primary can vanish on
//!   failover before a replica had it.
//! - **Trim with a large cap**: the cap is a safety net, not a queue length; a small
//!   cap trades lost work (counted) for memory. Prefer trimming acknowledged history by
//!   age (`XTRIM … MINID`) in your own maintenance.
//! - **Handlers should be idempotent** beyond the per-handler dedupe, for the cases in
//!   "What is not exactly-once".
//!
//! # Coming from Celery or RQ
//!
//! | Pyventus | ventus-redis |
//! |---|---|
//! | `CeleryEventEmitter(queue=…)`, `RQEventEmitter(queue=…)` | [`RedisEmitter::builder`]`(url).queue(…)` |
//! | the worker imports your subscribers' module | the worker links the same handlers to its own `EventLinker` and names each payload type with [`WorkerBuilder::decode`] |
//! | pickled callables and arguments | event name + JSON payload (`Serialize` / `DeserializeOwned`) |
//! | `acks_late`, visibility timeout | always acked late, per handler; [`WorkerBuilder::visibility`] with lease renewal |
//! | retries configured per task | [`WorkerBuilder::max_deliveries`] and [`WorkerBuilder::backoff`] |
//! | failed job registry | [`DeadLetters`] and `ventus-redis dlq …` |
#![forbid(unsafe_code)]

mod conn;
mod delivery;
mod dlq;
mod emitter;
pub mod envelope;
mod error;
mod id;
mod keys;
mod lua;
mod stream;
mod trace;
mod worker;

pub use delivery::Delivery;
pub use dlq::{DeadLetter, DeadLetters};
pub use emitter::{
    Batch, RedisEmitter, RedisEmitterBuilder, RemoteEmitterMetrics, DEFAULT_MAX_LEN, MAX_EVENT_LEN,
};
pub use envelope::{Envelope, KeyError, Keyring, Rejection};
pub use error::{ConfigError, DeadLetterError, RemoteEmitError};
pub use id::EmissionId;
pub use stream::QueueStats;
pub use worker::{Completion, Worker, WorkerBuilder, WorkerHandle, WorkerMetrics, WorkerReport};
