//! Errors of linker operations.

use std::fmt;

/// Why [`SubscribeBuilder::subscribe`](crate::SubscribeBuilder::subscribe) linked nothing.
///
/// Subscribing is all or nothing: when one target is invalid or full, no event is linked.
///
/// # Examples
///
/// ```
/// use ventus::{EventLinker, SubscribeError};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().max_subscribers(1).build()?;
/// linker.on("A").subscribe(|| ())?;
/// let err = linker.on(["B", "A"]).subscribe(|| ()).unwrap_err();
/// assert!(matches!(err, SubscribeError::TooManySubscribers { .. }));
/// assert!(!linker.contains_event("B"), "nothing is linked when one event is full");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscribeError {
    /// One of the event names was empty.
    EmptyEventName,
    /// No event was given.
    NoEvents,
    /// Linking would give `event` more subscribers than the linker's `max_subscribers`.
    TooManySubscribers {
        /// The full event (`"any event"` for the any-event target).
        event: String,
        /// The linker's limit.
        max: usize,
    },
    /// `event` is the name of another typed event in this linker: two [`Event`](crate::Event)
    /// types have the same name (see the trait's docs).
    NameCollision {
        /// The name both types have.
        event: String,
        /// The full name of the type the event belongs to.
        linked: &'static str,
        /// The full name of the type being subscribed.
        subscribed: &'static str,
    },
    /// [`SubscribeBuilder::name`](crate::SubscribeBuilder::name) was given an empty name.
    EmptyHandlerName,
    /// An async handler takes its payload by reference, as `async fn f(order: &Order)`
    /// does: its future outlives the emission's borrow, so no emission could give it the
    /// payload.
    AsyncHandlerBorrowsPayload {
        /// The handler's name.
        handler: &'static str,
        /// The reference type it takes, such as `&my_app::Order`.
        payload: &'static str,
    },
    /// An event name with a `*` is a pattern (see [`EventLinker::on`](crate::EventLinker::on)),
    /// and this one is not well formed: `*` and `**` must be whole segments between
    /// dots, and no segment may be empty.
    InvalidPattern {
        /// The name as given.
        pattern: String,
        /// What is wrong with it, and how to write it.
        reason: String,
    },
}

impl fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyEventName => {
                f.write_str("event name is empty; link handlers to non-empty event names")
            }
            Self::NoEvents => f.write_str(
                "no event to link the handler to; name at least one event, or use `on_any`",
            ),
            Self::TooManySubscribers { event, max } => write!(
                f,
                "event `{event}` already has {max} subscribers, the most this linker allows; \
                 remove one first or build the linker with a larger `max_subscribers`"
            ),
            Self::NameCollision {
                event,
                linked,
                subscribed,
            } => write!(
                f,
                "event `{event}` is the typed event `{linked}` in this linker, and `{subscribed}` \
                 is another type with the same name; give one of them its own name with \
                 `#[event(name = \"...\")]` or `Event::name`"
            ),
            Self::EmptyHandlerName => f.write_str(
                "handler name is empty; give `name` a non-empty name, or leave it out to use \
                 the handler's type name",
            ),
            Self::AsyncHandlerBorrowsPayload { handler, payload } => {
                let owned = payload.strip_prefix('&').unwrap_or(payload);
                write!(
                    f,
                    "async handler `{handler}` takes its payload by reference (`{payload}`), \
                     but its future outlives the emission's borrow; take it by value \
                     (`{owned}`, with `{owned}: Clone`), or make the handler a sync \
                     `fn(&{owned})`"
                )
            }
            Self::InvalidPattern { pattern, reason } => {
                write!(f, "`{pattern}` is not a valid event pattern: {reason}")
            }
        }
    }
}

impl std::error::Error for SubscribeError {}

/// Why [`EventLinkerBuilder::build`](crate::EventLinkerBuilder::build) made no linker.
///
/// # Examples
///
/// ```
/// let err = ventus::EventLinker::builder().max_subscribers(0).build().unwrap_err();
/// assert!(err.to_string().contains("at least 1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// `max_subscribers` was 0.
    ZeroMaxSubscribers,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroMaxSubscribers => {
                f.write_str("max_subscribers must be at least 1; leave it unset for no limit")
            }
        }
    }
}

impl std::error::Error for BuildError {}

/// Why a [`Next`](crate::Next) future (from [`EventLinker::next`](crate::EventLinker::next)
/// and its siblings) resolved without a payload.
///
/// Whatever the reason, the waiter's subscription is gone when the error is returned.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ventus::{EventLinker, NextError, SubscribeError};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().max_subscribers(1).build()?;
/// linker.on("Tick").subscribe(|| ())?;
/// let err = linker.next_with::<u64>("Tick").wait().unwrap_err();
/// assert!(matches!(err, NextError::Subscribe(SubscribeError::TooManySubscribers { max: 1, .. })));
///
/// let err = linker.next_with::<u64>("Tock").timeout(Duration::from_millis(1)).wait();
/// assert_eq!(err, Err(NextError::TimedOut(Duration::from_millis(1))));
/// assert_eq!(linker.subscriber_count_of("Tock"), 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NextError {
    /// The waiter could not subscribe: the event name is empty, the event already has the
    /// linker's `max_subscribers`, or (for [`next_event`](crate::EventLinker::next_event))
    /// its name belongs to another typed event.
    Subscribe(SubscribeError),
    /// No emission (whose payload passed the predicate) came within the timeout given to
    /// [`Next::timeout`](crate::Next::timeout).
    TimedOut(std::time::Duration),
    /// The waiter's subscription was removed before an emission reached it, by
    /// [`remove`](crate::EventLinker::remove),
    /// [`remove_event`](crate::EventLinker::remove_event),
    /// [`remove_all`](crate::EventLinker::remove_all) or an `unsubscribe` of its handle.
    Removed,
    /// [`Next::wait`](crate::Next::wait) was called on the thread of a current-thread
    /// tokio runtime, where blocking would stop the emissions it waits for: await the
    /// future instead.
    WouldBlock,
}

impl fmt::Display for NextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Subscribe(err) => write!(f, "could not wait for the next event: {err}"),
            Self::TimedOut(limit) => write!(f, "no matching emission within {limit:?}"),
            Self::Removed => f.write_str(
                "the waiter's subscription was removed (remove, remove_event, remove_all or \
                 unsubscribe) before an emission reached it",
            ),
            Self::WouldBlock => f.write_str(
                "`Next::wait` on the thread of a current-thread runtime would block the \
                 emissions it waits for; `.await` the future instead",
            ),
        }
    }
}

impl std::error::Error for NextError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Subscribe(err) => Some(err),
            _ => None,
        }
    }
}

impl From<SubscribeError> for NextError {
    fn from(err: SubscribeError) -> Self {
        Self::Subscribe(err)
    }
}
