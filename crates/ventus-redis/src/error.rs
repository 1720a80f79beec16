//! The crate's errors: each says what failed and what to do.

use std::fmt;
use std::time::Duration;

use crate::envelope::KeyError;

/// A setting that cannot work, found when an emitter, worker or dead-letter handle is
/// built.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let err = ventus_redis::RedisEmitter::builder("redis://127.0.0.1:6379/")
///     .queue("")
///     .build()
///     .await
///     .unwrap_err();
/// assert!(matches!(err, ventus_redis::ConfigError::InvalidQueue { .. }));
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The queue name cannot be used.
    InvalidQueue {
        /// The name given.
        queue: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A setting is out of range.
    InvalidSetting {
        /// The setting's name, as its builder method is called.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        reason: &'static str,
    },
    /// The Redis URL cannot be parsed.
    InvalidUrl(redis::RedisError),
    /// A signing key cannot be used.
    Key(KeyError),
    /// The server could not be reached while building.
    Unreachable {
        /// The server's address as given.
        url: String,
        /// What the client said.
        source: redis::RedisError,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidQueue { queue, reason } => {
                write!(f, "queue name `{queue}` cannot be used: {reason}")
            }
            Self::InvalidSetting {
                setting,
                value,
                reason,
            } => write!(f, "`{setting}({value})` is out of range: {reason}"),
            Self::InvalidUrl(e) => write!(
                f,
                "the Redis URL cannot be parsed ({e}); write it as redis://host:port/db"
            ),
            Self::Key(e) => write!(f, "{e}"),
            Self::Unreachable { url, source } => write!(
                f,
                "Redis at {url} is unreachable ({source}); check that the server runs and \
                 that REDIS_URL points at it"
            ),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidUrl(e) | Self::Unreachable { source: e, .. } => Some(e),
            Self::Key(e) => Some(e),
            _ => None,
        }
    }
}

impl From<KeyError> for ConfigError {
    fn from(e: KeyError) -> Self {
        Self::Key(e)
    }
}

/// Why a remote emission was not accepted.
///
/// Only [`RemoteEmitError::Ambiguous`] leaves the emission's fate open: it may have been
/// enqueued. Emitting again makes a new emission with a new id, so if the first did
/// land, handlers run for both: make such handlers idempotent by a key of your own.
///
/// # Examples
///
/// ```no_run
/// use ventus_redis::RemoteEmitError;
///
/// # async fn demo(emitter: ventus_redis::RedisEmitter) {
/// match emitter.emit_with("order.placed", &42_u64).await {
///     Ok(id) => println!("enqueued {id}"),
///     Err(e) if e.may_be_enqueued() => eprintln!("maybe enqueued: {e}"),
///     Err(RemoteEmitError::Unreachable { .. }) => eprintln!("Redis is down; nothing sent"),
///     Err(e) => eprintln!("not enqueued: {e}"),
/// }
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RemoteEmitError {
    /// The event name is empty or too long.
    InvalidEvent {
        /// The name given.
        event: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The payload does not serialise.
    Serialize {
        /// The event.
        event: String,
        /// What the codec said.
        source: serde_json::Error,
    },
    /// The server could not be reached (nothing was sent).
    Unreachable {
        /// What the client said.
        source: redis::RedisError,
    },
    /// The request was sent, or may have been, and no reply came in time: the emission
    /// may have been enqueued.
    Ambiguous {
        /// How long the emitter waited.
        waited: Duration,
        /// What the client said, if it said anything.
        source: Option<redis::RedisError>,
    },
    /// Strict mode: the stream holds `len` entries, its cap.
    Full {
        /// The stream key.
        stream: String,
        /// Its length.
        len: u64,
    },
    /// The server refused the command.
    Server(redis::RedisError),
}

impl fmt::Display for RemoteEmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidEvent { event, reason } => {
                write!(f, "event name `{event}` cannot be emitted: {reason}")
            }
            Self::Serialize { event, source } => write!(
                f,
                "the payload of `{event}` does not serialise to JSON ({source}); check its \
                 Serialize implementation (maps need string keys)"
            ),
            Self::Unreachable { source } => write!(
                f,
                "Redis is unreachable ({source}); nothing was enqueued. Check that the server \
                 runs and that REDIS_URL points at it, then emit again"
            ),
            Self::Ambiguous { waited, source } => {
                write!(f, "no reply from Redis within {waited:?}")?;
                if let Some(e) = source {
                    write!(f, " ({e})")?;
                }
                f.write_str(
                    "; the emission may have been enqueued. Emitting again makes a second \
                     emission, so if both landed, handlers run for each",
                )
            }
            Self::Full { stream, len } => write!(
                f,
                "stream `{stream}` is full ({len} entries, its cap) and the emitter is strict; \
                 start more workers or raise the cap"
            ),
            Self::Server(e) => write!(f, "Redis refused the emission: {e}"),
        }
    }
}

impl std::error::Error for RemoteEmitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Serialize { source, .. } => Some(source),
            Self::Unreachable { source } | Self::Server(source) => Some(source),
            Self::Ambiguous {
                source: Some(source),
                ..
            } => Some(source),
            _ => None,
        }
    }
}

impl RemoteEmitError {
    /// Whether the emission may have been enqueued despite the error.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus_redis::RemoteEmitError;
    ///
    /// let err = RemoteEmitError::InvalidEvent { event: String::new(), reason: "empty" };
    /// assert!(!err.may_be_enqueued());
    /// ```
    pub fn may_be_enqueued(&self) -> bool {
        matches!(self, Self::Ambiguous { .. })
    }

    /// Sorts a client error: refused or never connected is `Unreachable`; a dropped
    /// connection or a timeout after sending is `Ambiguous`; a server reply is `Server`.
    pub(crate) fn from_redis(e: redis::RedisError, waited: Duration) -> Self {
        if e.is_connection_refusal() {
            Self::Unreachable { source: e }
        } else if e.is_timeout() || e.is_connection_dropped() || e.is_io_error() {
            Self::Ambiguous {
                waited,
                source: Some(e),
            }
        } else {
            Self::Server(e)
        }
    }
}

/// Why a dead-letter operation failed.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(dlq: ventus_redis::DeadLetters) {
/// if let Err(ventus_redis::DeadLetterError::NotFound(id)) = dlq.discard("1-0").await {
///     eprintln!("no dead letter {id}");
/// }
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum DeadLetterError {
    /// The queue has no stream on this server.
    UnknownQueue(String),
    /// No dead letter has this id.
    NotFound(String),
    /// The server failed or could not be reached.
    Redis(redis::RedisError),
}

impl fmt::Display for DeadLetterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownQueue(q) => write!(
                f,
                "queue `{q}` has no stream on this server; check the queue name and REDIS_URL"
            ),
            Self::NotFound(id) => write!(
                f,
                "no dead letter with id `{id}`; `ventus-redis dlq list` shows the ids"
            ),
            Self::Redis(e) => write!(f, "Redis failed: {e}"),
        }
    }
}

impl std::error::Error for DeadLetterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Redis(e) => Some(e),
            _ => None,
        }
    }
}

impl From<redis::RedisError> for DeadLetterError {
    fn from(e: redis::RedisError) -> Self {
        Self::Redis(e)
    }
}
