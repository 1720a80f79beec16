//! ventus on Redis Streams: emissions that leave the process.
#![forbid(unsafe_code)]

mod conn;
mod delivery;
mod dlq;
mod emitter;
pub mod envelope;
mod error;
mod keys;
mod lua;
mod trace;
mod worker;

pub use delivery::Delivery;
pub use dlq::{DeadLetter, DeadLetters};
pub use emitter::{
    Batch, EmissionId, RedisEmitter, RedisEmitterBuilder, RemoteEmitterMetrics, DEFAULT_MAX_LEN,
    MAX_EVENT_LEN,
};
pub use envelope::{Envelope, KeyError, Keyring, Rejection};
pub use error::{ConfigError, DeadLetterError, RemoteEmitError};
pub use worker::{
    Completion, QueueStats, Worker, WorkerBuilder, WorkerHandle, WorkerMetrics, WorkerReport,
};
