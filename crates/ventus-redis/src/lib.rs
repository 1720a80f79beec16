//! ventus on Redis Streams: emissions that leave the process.
#![forbid(unsafe_code)]

pub mod envelope;

pub use envelope::{Envelope, KeyError, Keyring, Rejection};
