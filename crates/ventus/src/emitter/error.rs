//! Errors of emitting.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;

use crate::event::{EmissionId, EventName};
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
    /// None of the event's handlers takes the payload's type (or an emission without a
    /// payload). No handler ran; the payload is handed back in [`PayloadMismatch`].
    PayloadType(PayloadMismatch),
    /// [`emit_event`](crate::EventEmitter::emit_event) of a typed event whose name
    /// belongs to another typed event in the linker (see [`Event`](crate::Event)); no
    /// handler ran. The event is handed back in [`Collision`].
    NameCollision(Collision),
    /// The emitter's [`EmissionFilter`](crate::EmissionFilter) dropped the emission; no
    /// handler ran, and its once-subscriptions stay linked. The reason and the payload
    /// are in [`Filtered`].
    Filtered(Filtered),
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
            Self::PayloadType(mismatch) => mismatch.fmt(f),
            Self::NameCollision(collision) => fmt::Display::fmt(collision, f),
            Self::Filtered(filtered) => write!(
                f,
                "event `{}` was not emitted: the emitter's filter dropped it ({})",
                filtered.event, filtered.reason
            ),
        }
    }
}

impl EmitError {
    /// Hands `payload` back in a refusal that carries one (a payload mismatch, a name
    /// collision, made without it by the checks that only borrowed it).
    pub(crate) fn with_payload<T: Send + Sync + 'static>(mut self, payload: Option<T>) -> Self {
        let slot = match &mut self {
            Self::PayloadType(mismatch) => &mut mismatch.payload,
            Self::NameCollision(collision) => &mut collision.payload,
            Self::Filtered(filtered) => &mut filtered.payload,
            _ => return self,
        };
        *slot = payload.map(|p| Box::new(p) as Box<dyn Any + Send + Sync>);
        self
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

/// An emission the emitter's [`EmissionFilter`](crate::EmissionFilter) dropped, with
/// the filter's reason and the payload handed back.
///
/// # Examples
///
/// ```
/// use ventus::{EmitError, EmissionView, EventEmitter, EventLinker, Verdict};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("Charge").subscribe(|amount: &u64| *amount)?;
/// let emitter = EventEmitter::builder()
///     .linker(&linker)
///     .filter(|e: &EmissionView<'_>| match e.payload_as::<u64>() {
///         Some(&amount) if amount > 100 => Verdict::drop("over the limit"),
///         _ => Verdict::Pass,
///     })
///     .build();
///
/// let Err(EmitError::Filtered(filtered)) = emitter.emit_with("Charge", 500_u64) else {
///     panic!("expected a filtered emission");
/// };
/// assert_eq!(filtered.event(), "Charge");
/// assert_eq!(filtered.reason(), "over the limit");
/// assert_eq!(filtered.into_payload::<u64>(), Some(500));
/// # Ok(())
/// # }
/// ```
pub struct Filtered {
    pub(crate) event: EventName,
    pub(crate) emission: EmissionId,
    pub(crate) reason: Cow<'static, str>,
    pub(crate) payload: Option<Box<dyn Any + Send + Sync>>,
}

impl Filtered {
    /// The event that was dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EmitError, EmissionView, EventEmitter, EventLinker, Verdict};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| ())?;
    /// let emitter = EventEmitter::builder().linker(&linker).filter(|_: &EmissionView<'_>| Verdict::drop("off")).build();
    /// let Err(EmitError::Filtered(filtered)) = emitter.emit("Job") else { panic!() };
    /// assert_eq!(filtered.event(), "Job");
    /// # Ok(())
    /// # }
    /// ```
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// The id the filter saw ([`EmissionView::emission`](crate::EmissionView::emission)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use ventus::{EmitError, EmissionView, EventEmitter, EventLinker, Verdict};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| ())?;
    /// static SEEN: Mutex<Option<ventus::EmissionId>> = Mutex::new(None);
    /// let emitter = EventEmitter::builder()
    ///     .linker(&linker)
    ///     .filter(|e: &EmissionView<'_>| {
    ///         *SEEN.lock().unwrap() = Some(e.emission());
    ///         Verdict::drop("off")
    ///     })
    ///     .build();
    /// let Err(EmitError::Filtered(filtered)) = emitter.emit("Job") else { panic!() };
    /// assert_eq!(Some(filtered.emission()), *SEEN.lock().unwrap());
    /// # Ok(())
    /// # }
    /// ```
    pub fn emission(&self) -> EmissionId {
        self.emission
    }

    /// Why the filter dropped the emission (`"the emission filter panicked"` if it
    /// panicked).
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EmitError, EmissionView, EventEmitter, EventLinker, Verdict};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| ())?;
    /// let emitter = EventEmitter::builder().linker(&linker).filter(|_: &EmissionView<'_>| Verdict::drop("maintenance")).build();
    /// let Err(EmitError::Filtered(filtered)) = emitter.emit("Job") else { panic!() };
    /// assert_eq!(filtered.reason(), "maintenance");
    /// # Ok(())
    /// # }
    /// ```
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The payload, if it was a `T`; `None` for an event emitted without one.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EmitError, EmissionView, EventEmitter, EventLinker, Verdict};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|n: &u32| *n)?;
    /// let emitter = EventEmitter::builder().linker(&linker).filter(|_: &EmissionView<'_>| Verdict::drop("off")).build();
    /// let Err(EmitError::Filtered(filtered)) = emitter.emit_with("Job", 3_u32) else { panic!() };
    /// assert_eq!(filtered.into_payload::<u32>(), Some(3), "`None` for another type");
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_payload<T: Any>(self) -> Option<T> {
        self.payload?.downcast::<T>().ok().map(|b| *b)
    }
}

impl fmt::Debug for Filtered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filtered")
            .field("event", &self.event)
            .field("emission", &self.emission)
            .field("reason", &self.reason)
            .field("has_payload", &self.payload.is_some())
            .finish()
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

/// An emission refused because none of the event's handlers takes its payload's type,
/// with the payload handed back.
///
/// Each handler states the payload type it takes (`|n: &u64|` takes a `u64`). An event's
/// handlers may take different types: an emission runs when at least one of them takes
/// its payload, and the handlers of another type fail one by one with
/// [`HandlerErrorKind::PayloadType`](crate::HandlerErrorKind::PayloadType). When none
/// does, the emission is a mistake of the caller, and `emit` says so before any handler
/// runs. Handlers that take no argument, or take [`AnyEvent`](crate::AnyEvent), accept
/// any payload and take no part in the check; "any event" handlers take none either, and
/// do not see a refused emission (it was never made).
///
/// The usual cause is a literal whose type Rust infers on its own: `7` is an `i32`,
/// `21.5` an `f64`, `"world"` a `&str`. Write `7_u64`, `21.5_f32`, `"world".to_string()`,
/// or emit through an [`EventKey`](crate::EventKey), whose type is checked at compile time.
///
/// # Examples
///
/// ```
/// use ventus::{EmitError, EventLinker, TokioEventEmitter};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("Int").subscribe(|n: &u64| *n)?;
/// let emitter = TokioEventEmitter::with_linker(&linker);
///
/// match emitter.emit_with("Int", 7) {
///     Err(EmitError::PayloadType(mismatch)) => {
///         assert_eq!(mismatch.expected(), ["u64"]);
///         assert_eq!(mismatch.given(), Some("i32"));
///         assert_eq!(mismatch.into_payload::<i32>(), Some(7));
///     }
///     other => panic!("expected a payload mismatch, got {other:?}"),
/// }
/// emitter.emit_with("Int", 7_u64)?; // the type the handler takes
/// # Ok(())
/// # }
/// ```
pub struct PayloadMismatch {
    pub(crate) event: EventName,
    pub(crate) expected: Vec<&'static str>,
    pub(crate) given: Option<&'static str>,
    pub(crate) payload: Option<Box<dyn Any + Send + Sync>>,
}

impl PayloadMismatch {
    /// The event that was refused.
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// The payload types the event's handlers take, in subscription order.
    pub fn expected(&self) -> &[&'static str] {
        &self.expected
    }

    /// The type that was emitted; `None` for an emission without a payload.
    pub fn given(&self) -> Option<&'static str> {
        self.given
    }

    /// The payload, if it was a `T`; `None` for an event emitted without one.
    pub fn into_payload<T: Any>(self) -> Option<T> {
        self.payload?.downcast::<T>().ok().map(|b| *b)
    }
}

impl fmt::Display for PayloadMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let types = self
            .expected
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        write!(
            f,
            "event `{}` was not emitted: its handlers take a {types} payload, ",
            self.event
        )?;
        let Some(given) = self.given else {
            return write!(
                f,
                "and it was emitted without one; emit it with `emit_with(\"{}\", payload)`",
                self.event
            );
        };
        write!(f, "and it was emitted with a `{given}`; ")?;
        match hint(given, &self.expected) {
            Some(hint) => f.write_str(&hint),
            None => {
                f.write_str("emit one of the types the handlers take, or change their argument")
            }
        }
    }
}

/// Advice for the usual mix-ups: a literal whose type Rust inferred on its own.
fn hint(given: &str, expected: &[&'static str]) -> Option<String> {
    const INTEGERS: [&str; 12] = [
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
    ];
    const FLOATS: [&str; 2] = ["f32", "f64"];
    let wanted = |set: &[&str]| expected.iter().find(|t| set.contains(t)).copied();
    match given {
        "i32" => wanted(&INTEGERS).map(|t| {
            format!("an integer literal is an `i32` unless told otherwise: write it as `7_{t}`")
        }),
        "f64" => wanted(&FLOATS).map(|t| {
            format!("a float literal is an `f64` unless told otherwise: write it as `21.5_{t}`")
        }),
        "&str" => expected
            .contains(&"alloc::string::String")
            .then(|| "emit a `String`: `\"text\".to_string()`, not a `&str`".to_owned()),
        _ => None,
    }
}

impl fmt::Debug for PayloadMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayloadMismatch")
            .field("event", &self.event)
            .field("expected", &self.expected)
            .field("given", &self.given)
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
