//! The error a handler's failure callback receives.

use std::any::type_name;
use std::error::Error;
use std::fmt;

use crate::emitter::EmissionId;
use crate::event::EventName;
use crate::subscription::SubscriptionId;

/// A boxed error, as handlers and processors return them.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Why a handler failed: the error it returned, its panic, or a payload it could not take.
///
/// Given to failure callbacks inside a [`HandlerError`]; one handler's failure never stops
/// the other handlers of an emission.
#[derive(Debug)]
#[non_exhaustive]
pub enum HandlerErrorKind {
    /// The handler returned `Err`; the error is kept as it was returned.
    Failed(BoxError),
    /// The handler panicked; this is the panic message.
    Panicked(String),
    /// The handler ran past its timeout. An async handler was cancelled at the timeout;
    /// a sync one cannot be interrupted and is reported when it returns.
    TimedOut(std::time::Duration),
    /// The handler takes a payload of type `expected`, but the emission carried `found`
    /// (`None`: the event was emitted without a payload).
    PayloadType {
        /// The payload type the handler declared.
        expected: &'static str,
        /// The type that was emitted, if any.
        found: Option<&'static str>,
    },
}

/// A handler failed: which event, which handler, and why.
///
/// Failure callbacks (per subscription with
/// [`SubscribeBuilder::on_failure`](crate::SubscribeBuilder::on_failure), or the linker's
/// default) receive it by reference; it is also logged with `tracing` at error level.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use ventus::{EventLinker, HandlerErrorKind, TokioEventEmitter};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let linker = EventLinker::builder().build()?;
/// linker
///     .on("Divide")
///     .on_failure(move |err: &ventus::HandlerError| log.lock().unwrap().push(err.to_string()))
///     .subscribe(|&(a, b): &(i32, i32)| a.checked_div(b).ok_or("division by zero"))?;
///
/// TokioEventEmitter::with_linker(&linker).emit_with("Divide", (1, 0))?;
/// let seen = seen.lock().unwrap();
/// assert!(seen[0].contains("division by zero"), "{}", seen[0]);
/// # Ok(())
/// # }
/// ```
pub struct HandlerError {
    pub(crate) event: EventName,
    pub(crate) handler: &'static str,
    pub(crate) subscription: SubscriptionId,
    pub(crate) emission: EmissionId,
    pub(crate) kind: HandlerErrorKind,
}

impl HandlerError {
    /// The event whose emission ran the handler.
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// The handler's name: the one given to
    /// [`SubscribeBuilder::name`](crate::SubscribeBuilder::name), or else its type name (a
    /// function's path, or the closure's place in the code).
    pub fn handler(&self) -> &'static str {
        self.handler
    }

    /// The subscription the handler belongs to.
    pub fn subscription(&self) -> SubscriptionId {
        self.subscription
    }

    /// The emission the handler ran for.
    pub fn emission(&self) -> EmissionId {
        self.emission
    }

    /// Why it failed.
    pub fn kind(&self) -> &HandlerErrorKind {
        &self.kind
    }

    /// Takes the error out, consuming `self`.
    pub fn into_kind(self) -> HandlerErrorKind {
        self.kind
    }

    /// The error the handler returned, if it is an `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ventus::{EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let code = Arc::new(Mutex::new(None));
    /// let seen = code.clone();
    /// let linker = EventLinker::builder().build()?;
    /// linker
    ///     .on("Parse")
    ///     .on_failure(move |err: &ventus::HandlerError| {
    ///         *seen.lock().unwrap() = err.downcast_ref::<std::num::ParseIntError>().cloned();
    ///     })
    ///     .subscribe(|text: &&str| text.parse::<u8>())?;
    /// TokioEventEmitter::with_linker(&linker).emit_with("Parse", "x")?;
    /// assert!(code.lock().unwrap().is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        match &self.kind {
            HandlerErrorKind::Failed(err) => err.downcast_ref(),
            _ => None,
        }
    }

    /// `true` if the handler panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, HandlerErrorKind::Panicked(_))
    }

    /// `true` if the handler ran past its timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, HandlerErrorKind::TimedOut(_))
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError")
            .field("event", &self.event)
            .field("handler", &self.handler)
            .field("subscription", &self.subscription)
            .field("emission", &self.emission)
            .field("kind", &self.kind)
            .finish()
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (handler, event) = (self.handler, &self.event);
        match &self.kind {
            HandlerErrorKind::Failed(err) => {
                write!(f, "handler `{handler}` for event `{event}` failed: {err}")
            }
            HandlerErrorKind::Panicked(msg) => {
                write!(f, "handler `{handler}` for event `{event}` panicked: {msg}")
            }
            HandlerErrorKind::TimedOut(timeout) => write!(
                f,
                "handler `{handler}` for event `{event}` ran past its timeout of {timeout:?}"
            ),
            HandlerErrorKind::PayloadType {
                expected,
                found: Some(found),
            } => {
                write!(
                    f,
                    "handler `{handler}` takes a `{expected}` payload but event `{event}` was \
                     emitted with a `{found}`; "
                )?;
                let (string, str) = (type_name::<String>(), type_name::<&str>());
                // A string literal is a `&'static str`: the mismatch newcomers meet first.
                if (*expected, *found) == (string, str) {
                    f.write_str(
                        "emit a `String` (e.g. `\"world\".to_string()`), not a `&str`, or take \
                         `&&'static str` (sync) or `&'static str` (async)",
                    )
                } else if (*expected, *found) == (str, string) {
                    f.write_str(
                        "emit a `&'static str` (a string literal), not a `String`, or take \
                         `&String` (sync) or `String` (async)",
                    )
                } else {
                    write!(f, "emit a `{expected}` or change the handler's argument")
                }
            }
            HandlerErrorKind::PayloadType {
                expected,
                found: None,
            } => write!(
                f,
                "handler `{handler}` takes a `{expected}` payload but event `{event}` was \
                 emitted without one; emit it with `emit_with` or drop the handler's argument"
            ),
        }
    }
}

impl Error for HandlerError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.kind {
            HandlerErrorKind::Failed(err) => Some(&**err),
            _ => None,
        }
    }
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}
