//! The error a handler's failure callback receives.

use std::any::type_name;
use std::error::Error;
use std::fmt;

use crate::event::EmissionId;
use crate::event::EventName;
use crate::event::SubscriptionId;

/// A boxed error, as handlers and processors return them.
///
/// # Examples
///
/// ```
/// let err: ventus::BoxError = "queue is down".into();
/// assert_eq!(err.to_string(), "queue is down");
/// let err: ventus::BoxError = Box::new(std::fmt::Error);
/// assert!(err.is::<std::fmt::Error>());
/// ```
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Why a handler failed: the error it returned, its panic, or a payload it could not take.
///
/// Given to failure callbacks inside a [`HandlerError`]; one handler's failure never stops
/// the other handlers of an emission.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use ventus::{EventLinker, HandlerError, HandlerErrorKind, TokioEventEmitter};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let linker = EventLinker::builder().build()?;
/// linker
///     .on("Reading")
///     .on_failure(move |err: &HandlerError| {
///         if let HandlerErrorKind::PayloadType { expected, found } = err.kind() {
///             sink.lock().unwrap().push((*expected, *found));
///         }
///     })
///     .subscribe(|volts: &f64| *volts)?;
/// // Another handler of the event takes the `u32`, so the emission runs, and the `f64`
/// // handler fails on its own (with no handler taking it, `emit` would refuse it).
/// linker.on("Reading").subscribe(|raw: &u32| *raw)?;
///
/// TokioEventEmitter::with_linker(&linker).emit_with("Reading", 5_u32)?; // not an `f64`
/// assert_eq!(*seen.lock().unwrap(), [("f64", Some("u32"))]);
/// # Ok(())
/// # }
/// ```
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
    /// (`None`: the event was emitted without a payload). Only on events whose handlers
    /// take different types: when none takes the emitted one, `emit` refuses the emission
    /// with [`EmitError::PayloadType`](crate::EmitError::PayloadType) instead.
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
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker, Outcome};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Parse").subscribe(|text: &String| text.parse::<u8>())?;
    /// let emitter = EventEmitter::builder().linker(&linker).detailed_reports(true).build();
    ///
    /// let report = emitter.emit_with("Parse", "x".to_string())?.wait().expect("no runtime here");
    /// let Outcome::Failed(err) = &report.handlers()[0].outcome else { panic!("expected a failure") };
    /// assert_eq!(err.event(), "Parse");
    /// # Ok(())
    /// # }
    /// ```
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// The handler's name: the one given to
    /// [`SubscribeBuilder::name`](crate::SubscribeBuilder::name), or else its type name (a
    /// function's path, or the closure's place in the code).
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker, Outcome};
    ///
    /// fn parse(text: &String) -> Result<u8, std::num::ParseIntError> {
    ///     text.parse()
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Parse").subscribe(parse)?;
    /// let emitter = EventEmitter::builder().linker(&linker).detailed_reports(true).build();
    ///
    /// let report = emitter.emit_with("Parse", "x".to_string())?.wait().expect("no runtime here");
    /// let Outcome::Failed(err) = &report.handlers()[0].outcome else { panic!("expected a failure") };
    /// assert!(err.handler().ends_with("parse"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn handler(&self) -> &'static str {
        self.handler
    }

    /// The subscription the handler belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker, Outcome};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// let sub = linker.on("Parse").subscribe(|text: &String| text.parse::<u8>())?;
    /// let emitter = EventEmitter::builder().linker(&linker).detailed_reports(true).build();
    ///
    /// let report = emitter.emit_with("Parse", "x".to_string())?.wait().expect("no runtime here");
    /// let Outcome::Failed(err) = &report.handlers()[0].outcome else { panic!("expected a failure") };
    /// assert_eq!(err.subscription(), sub.id());
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscription(&self) -> SubscriptionId {
        self.subscription
    }

    /// The emission the handler ran for.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker, Outcome};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Parse").subscribe(|text: &String| text.parse::<u8>())?;
    /// let emitter = EventEmitter::builder().linker(&linker).detailed_reports(true).build();
    ///
    /// let report = emitter.emit_with("Parse", "x".to_string())?.wait().expect("no runtime here");
    /// let Outcome::Failed(err) = &report.handlers()[0].outcome else { panic!("expected a failure") };
    /// assert_eq!(err.emission(), report.id());
    /// # Ok(())
    /// # }
    /// ```
    pub fn emission(&self) -> EmissionId {
        self.emission
    }

    /// Why it failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker, HandlerErrorKind, Outcome};
    ///
    /// fn jam() {
    ///     panic!("out of paper");
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(jam)?;
    /// let emitter = EventEmitter::builder().linker(&linker).detailed_reports(true).build();
    ///
    /// let report = emitter.emit("Job")?.wait().expect("no runtime here");
    /// let Outcome::Failed(err) = &report.handlers()[0].outcome else { panic!("expected a failure") };
    /// assert!(matches!(err.kind(), HandlerErrorKind::Panicked(message) if message == "out of paper"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn kind(&self) -> &HandlerErrorKind {
        &self.kind
    }

    /// Takes the error out, consuming `self`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker, HandlerErrorKind, Outcome};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Parse").subscribe(|text: &String| text.parse::<u8>())?;
    /// let emitter = EventEmitter::builder().linker(&linker).detailed_reports(true).build();
    ///
    /// let report = emitter.emit_with("Parse", "x".to_string())?.wait().expect("no runtime here");
    /// let Some(Outcome::Failed(err)) = report.into_handlers().pop().map(|h| h.outcome) else {
    ///     panic!("expected a failure");
    /// };
    /// let HandlerErrorKind::Failed(source) = err.into_kind() else { panic!("expected `Err`") };
    /// assert!(source.is::<std::num::ParseIntError>(), "the error as it was returned");
    /// # Ok(())
    /// # }
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use ventus::{EventLinker, HandlerError, TokioEventEmitter};
    ///
    /// fn jam() {
    ///     panic!("out of paper");
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let panicked = Arc::new(AtomicBool::new(false));
    /// let flag = panicked.clone();
    /// let linker = EventLinker::builder().build()?;
    /// linker
    ///     .on("Job")
    ///     .on_failure(move |err: &HandlerError| flag.store(err.is_panic(), Ordering::Relaxed))
    ///     .subscribe(jam)?;
    ///
    /// TokioEventEmitter::with_linker(&linker).emit("Job")?;
    /// assert!(panicked.load(Ordering::Relaxed));
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, HandlerErrorKind::Panicked(_))
    }

    /// `true` if the handler ran past its timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use ventus::{EventLinker, HandlerError, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let timed_out = Arc::new(AtomicBool::new(false));
    /// let flag = timed_out.clone();
    /// let linker = EventLinker::builder().build()?;
    /// linker
    ///     .on("Fetch")
    ///     .timeout(Duration::from_millis(10))
    ///     .on_failure(move |err: &HandlerError| flag.store(err.is_timeout(), Ordering::Relaxed))
    ///     .subscribe(|| std::future::pending::<()>())?;
    ///
    /// TokioEventEmitter::with_linker(&linker).emit("Fetch")?;
    /// assert!(timed_out.load(Ordering::Relaxed));
    /// # Ok(())
    /// # }
    /// ```
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
