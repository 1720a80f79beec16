//! Errors of emitting.

use std::any::Any;
use std::fmt;

use crate::event::EventName;
use crate::handler::BoxError;

/// Why an emission was not made.
///
/// Handler failures are not emit errors: they go to failure callbacks, and the other
/// handlers still run.
///
/// # Examples
///
/// ```
/// use ventus::{EmitError, TokioEventEmitter};
///
/// let emitter = TokioEventEmitter::with_linker(&ventus::EventLinker::builder().build().unwrap());
/// assert!(matches!(emitter.emit(""), Err(EmitError::EmptyEventName)));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum EmitError {
    /// The event name was empty.
    EmptyEventName,
    /// The emitter was shut down; it refuses new emissions.
    Closed {
        /// The event that was refused.
        event: EventName,
    },
    /// The emitter's `max_in_flight` bound was reached and its overflow policy refused
    /// the emission. The payload is handed back in [`Rejected`].
    Full(Rejected),
    /// The processor could not take the emission (for example, no runtime could be
    /// started for a sync-context emission with async handlers).
    Processor(BoxError),
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyEventName => {
                f.write_str("event name is empty; emit events with a non-empty name")
            }
            Self::Closed { event } => write!(
                f,
                "event `{event}` was not emitted: the emitter was shut down and refuses new emissions"
            ),
            Self::Full(rejected) => write!(
                f,
                "event `{}` was not emitted: {} emissions are already in flight, the emitter's \
                 `max_in_flight`; retry later, or wait for room with `reserve().await`",
                rejected.event, rejected.limit
            ),
            Self::Processor(err) => write!(f, "the emission could not be processed: {err}"),
        }
    }
}

impl std::error::Error for EmitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Processor(err) => Some(&**err),
            _ => None,
        }
    }
}

/// An emission refused for lack of room, with its payload handed back.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ventus::{EmitError, EventEmitter, EventLinker, Overflow};
///
/// let linker = EventLinker::builder().build()?;
/// linker.on("Job").subscribe(|n: u32| async move { n })?;
/// let emitter = EventEmitter::builder()
///     .linker(&linker)
///     .max_in_flight(1, Overflow::Reject)
///     .build();
///
/// let _first = emitter.emit_with("Job", 1_u32)?; // scheduled, not yet run
/// match emitter.emit_with("Job", 2_u32) {
///     Err(EmitError::Full(rejected)) => assert_eq!(rejected.into_payload::<u32>(), Some(2)),
///     other => panic!("expected a full emitter, got {other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
pub struct Rejected {
    pub(crate) event: EventName,
    pub(crate) limit: usize,
    pub(crate) payload: Option<Box<dyn Any + Send + Sync>>,
}

impl Rejected {
    /// The event that was refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EmitError, EventEmitter, EventLinker, Overflow};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| async {})?;
    /// let emitter = EventEmitter::builder().linker(&linker).max_in_flight(1, Overflow::Reject).build();
    /// let _first = emitter.emit("Job")?;
    /// match emitter.emit("Job") {
    ///     Err(EmitError::Full(rejected)) => assert_eq!(rejected.event(), "Job"),
    ///     other => panic!("expected a full emitter, got {other:?}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// The payload, if it was a `T`; `None` for an event emitted without one.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EmitError, EventEmitter, EventLinker, Overflow};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|n: u32| async move { n })?;
    /// let emitter = EventEmitter::builder().linker(&linker).max_in_flight(1, Overflow::Reject).build();
    /// let _first = emitter.emit_with("Job", 1_u32)?;
    /// let Err(EmitError::Full(rejected)) = emitter.emit_with("Job", 2_u32) else {
    ///     panic!("expected a full emitter");
    /// };
    /// assert_eq!(rejected.into_payload::<u32>(), Some(2), "`None` for another type");
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_payload<T: Any>(self) -> Option<T> {
        self.payload?.downcast::<T>().ok().map(|b| *b)
    }
}

impl fmt::Debug for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("event", &self.event)
            .field("limit", &self.limit)
            .field("has_payload", &self.payload.is_some())
            .finish()
    }
}
