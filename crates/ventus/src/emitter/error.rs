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
    /// [`emit_event`](crate::EventEmitter::emit_event) of a typed event whose name
    /// belongs to another typed event in the linker (see [`Event`](crate::Event)); no
    /// handler ran. The event is handed back in [`Collision`].
    NameCollision(Collision),
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
            Self::NameCollision(collision) => fmt::Display::fmt(collision, f),
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
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// The payload, if it was a `T`; `None` for an event emitted without one.
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

/// A typed event refused because its name belongs to another typed event, with the
/// event handed back.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ventus::{EmitError, Event, EventLinker, TokioEventEmitter};
///
/// mod shop {
///     pub struct Created(pub u32);
///     impl ventus::Event for Created {}
/// }
/// mod users {
///     #[derive(Debug, PartialEq)]
///     pub struct Created(pub &'static str);
///     impl ventus::Event for Created {}
/// }
///
/// let linker = EventLinker::builder().build()?;
/// linker.on_event::<shop::Created>().subscribe(|_: &shop::Created| ())?;
/// let emitter = TokioEventEmitter::with_linker(&linker);
/// match emitter.emit_event(users::Created("ann")) {
///     Err(EmitError::NameCollision(collision)) => {
///         assert!(collision.linked_type().ends_with("shop::Created"));
///         assert_eq!(collision.into_payload::<users::Created>(), Some(users::Created("ann")));
///     }
///     other => panic!("expected a name collision, got {other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
pub struct Collision {
    pub(crate) event: EventName,
    pub(crate) linked: &'static str,
    pub(crate) emitted: &'static str,
    pub(crate) payload: Option<Box<dyn Any + Send + Sync>>,
}

impl Collision {
    /// The name both types have.
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// The full name of the type the event belongs to in the linker.
    pub fn linked_type(&self) -> &'static str {
        self.linked
    }

    /// The full name of the type that was emitted.
    pub fn emitted_type(&self) -> &'static str {
        self.emitted
    }

    /// The emitted event, if it was a `T`.
    pub fn into_payload<T: Any>(self) -> Option<T> {
        self.payload?.downcast::<T>().ok().map(|b| *b)
    }
}

impl fmt::Display for Collision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "typed event `{}` was not emitted: its name `{}` is the typed event `{}` in this \
             linker; give one of them its own name with `#[event(name = \"...\")]` or `Event::name`",
            self.emitted, self.event, self.linked
        )
    }
}

impl fmt::Debug for Collision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collision")
            .field("event", &self.event)
            .field("linked", &self.linked)
            .field("emitted", &self.emitted)
            .finish_non_exhaustive()
    }
}
