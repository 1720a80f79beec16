//! A filter that sees each emission before its handlers and may drop it.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::event::EmissionId;
use crate::handler::panic_message;

/// One emission, as an [`EmissionFilter`] sees it: before any of its handlers.
///
/// # Examples
///
/// ```
/// use ventus::{EmissionView, Verdict};
///
/// fn only_orders(emission: &EmissionView<'_>) -> Verdict {
///     if emission.event().starts_with("order.") {
///         Verdict::Pass
///     } else {
///         Verdict::drop("not an order")
///     }
/// }
/// # let _ = only_orders;
/// ```
#[derive(Clone, Copy)]
pub struct EmissionView<'a> {
    pub(crate) event: &'a str,
    pub(crate) emission: EmissionId,
    pub(crate) payload: Option<&'a (dyn Any + Send + Sync)>,
    pub(crate) payload_type: Option<&'static str>,
}

impl<'a> EmissionView<'a> {
    /// The name of the event emitted.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ventus::EmissionView;
    /// fn is_audit(emission: &EmissionView<'_>) -> bool {
    ///     emission.event() == "audit"
    /// }
    /// # let _ = is_audit;
    /// ```
    pub fn event(&self) -> &'a str {
        self.event
    }

    /// The emission's id: the one its [`EmissionReport::id`](crate::EmissionReport::id) carries
    /// if it passes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ventus::{EmissionId, EmissionView};
    /// fn id_of(emission: &EmissionView<'_>) -> EmissionId {
    ///     emission.emission()
    /// }
    /// # let _ = id_of;
    /// ```
    pub fn emission(&self) -> EmissionId {
        self.emission
    }

    /// The payload, type-erased; `None` for an emission without one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ventus::EmissionView;
    /// fn has_payload(emission: &EmissionView<'_>) -> bool {
    ///     emission.payload().is_some()
    /// }
    /// # let _ = has_payload;
    /// ```
    pub fn payload(&self) -> Option<&'a (dyn Any + Send + Sync)> {
        self.payload
    }

    /// The payload, if it is a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ventus::{EmissionView, Verdict};
    /// fn small_amounts(emission: &EmissionView<'_>) -> Verdict {
    ///     match emission.payload_as::<u64>() {
    ///         Some(&amount) if amount > 1_000 => Verdict::drop("amount over the limit"),
    ///         _ => Verdict::Pass,
    ///     }
    /// }
    /// # let _ = small_amounts;
    /// ```
    pub fn payload_as<T: Any>(&self) -> Option<&'a T> {
        self.payload?.downcast_ref::<T>()
    }

    /// The name of the payload's type (`std::any::type_name`); `None` without a payload.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ventus::EmissionView;
    /// fn type_of(emission: &EmissionView<'_>) -> &'static str {
    ///     emission.payload_type().unwrap_or("(none)")
    /// }
    /// # let _ = type_of;
    /// ```
    pub fn payload_type(&self) -> Option<&'static str> {
        self.payload_type
    }
}

impl fmt::Debug for EmissionView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmissionView")
            .field("event", &self.event)
            .field("emission", &self.emission)
            .field("payload_type", &self.payload_type)
            .finish()
    }
}

/// What an [`EmissionFilter`] decided about an emission.
///
/// # Examples
///
/// ```
/// use ventus::Verdict;
///
/// let dropped = Verdict::drop("sampled out");
/// assert_eq!(dropped.reason(), Some("sampled out"));
/// assert_eq!(Verdict::Pass.reason(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The emission goes on to its handlers.
    Pass,
    /// The emission is dropped: no handler runs, and `emit` (or `run`) returns
    /// [`EmitError::Filtered`](crate::EmitError::Filtered) with this reason.
    Drop(Cow<'static, str>),
}

impl Verdict {
    /// Drops the emission for `reason` (a `&'static str` or a `String`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::Verdict;
    ///
    /// let user = 7;
    /// assert_eq!(Verdict::drop(format!("user {user} opted out")).reason(), Some("user 7 opted out"));
    /// ```
    pub fn drop(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Drop(reason.into())
    }

    /// Whether the emission passes.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::Verdict;
    ///
    /// assert!(Verdict::Pass.passes());
    /// assert!(!Verdict::drop("no").passes());
    /// ```
    pub fn passes(&self) -> bool {
        matches!(self, Self::Pass)
    }

    /// The reason of a drop; `None` for [`Pass`](Self::Pass).
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::Verdict;
    ///
    /// assert_eq!(Verdict::drop("flag off").reason(), Some("flag off"));
    /// ```
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Pass => None,
            Self::Drop(reason) => Some(reason),
        }
    }
}

/// Sees each emission of an emitter before its handlers and lets it pass or drops it
/// with a reason: for sampling, auditing, feature flags. Set on an emitter with
/// [`EventEmitterBuilder::filter`](crate::EventEmitterBuilder::filter); any
/// `Fn(&EmissionView<'_>) -> Verdict + Send + Sync + 'static` closure is one.
///
/// The filter is called once per emission that found at least one handler linked (an
/// emission with none, or one refused for its payload's type, never reaches it), on the
/// thread that emits, inside `emit` (or `run`) and outside every ventus lock; keep it
/// short. A dropped emission:
///
/// - runs no handler, and its once-subscriptions stay linked for the next emission;
/// - is refused: `emit` and `run` return [`EmitError::Filtered`](crate::EmitError::Filtered),
///   with the reason and the payload handed back (an `Ok` always means the emission runs);
/// - is counted in [`EmitterMetrics::filtered`](crate::EmitterMetrics::filtered), not in
///   `emitted`;
/// - is logged at debug level (`ventus emission filtered`, with the event, the emission
///   id and the reason): a sampling filter drops many, so it stays quiet by default.
///
/// A panic in the filter is caught and logged at error level, and drops the emission
/// (reason `"the emission filter panicked"`): a filter that cannot decide does not let
/// through what it may have been written to stop.
///
/// An emitter with a filter takes the full emission path for every emission (as
/// [`detailed_reports`](crate::EventEmitterBuilder::detailed_reports) does); emitters
/// without one pay nothing.
///
/// # Examples
///
/// A feature flag that drops one event:
///
/// ```
/// use ventus::{EmitError, EmissionView, EventEmitter, EventLinker, Verdict};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("beta.signup").subscribe(|| ())?;
/// linker.on("signup").subscribe(|| ())?;
///
/// let emitter = EventEmitter::builder()
///     .linker(&linker)
///     .filter(|emission: &EmissionView<'_>| match emission.event() {
///         "beta.signup" => Verdict::drop("beta is off"),
///         _ => Verdict::Pass,
///     })
///     .build();
///
/// assert!(emitter.emit("signup").is_ok());
/// match emitter.emit("beta.signup") {
///     Err(EmitError::Filtered(filtered)) => assert_eq!(filtered.reason(), "beta is off"),
///     other => panic!("expected a filtered emission, got {other:?}"),
/// }
/// assert_eq!(emitter.metrics().filtered, 1);
/// # Ok(())
/// # }
/// ```
pub trait EmissionFilter: Send + Sync + 'static {
    /// Whether `emission` goes on to its handlers.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EmissionFilter, EmissionView, Verdict};
    ///
    /// struct NoPayloadless;
    ///
    /// impl EmissionFilter for NoPayloadless {
    ///     fn filter(&self, emission: &EmissionView<'_>) -> Verdict {
    ///         if emission.payload().is_some() {
    ///             Verdict::Pass
    ///         } else {
    ///             Verdict::drop("an emission without a payload")
    ///         }
    ///     }
    /// }
    /// # let _ = NoPayloadless;
    /// ```
    fn filter(&self, emission: &EmissionView<'_>) -> Verdict;
}

impl<F> EmissionFilter for F
where
    F: Fn(&EmissionView<'_>) -> Verdict + Send + Sync + 'static,
{
    fn filter(&self, emission: &EmissionView<'_>) -> Verdict {
        self(emission)
    }
}

impl<F: EmissionFilter + ?Sized> EmissionFilter for std::sync::Arc<F> {
    fn filter(&self, emission: &EmissionView<'_>) -> Verdict {
        (**self).filter(emission)
    }
}

/// The reason of an emission dropped because its filter panicked.
pub(crate) const PANICKED: &str = "the emission filter panicked";

/// The filter an emitter holds.
pub(crate) struct Filter(pub(crate) Box<dyn EmissionFilter>);

impl Filter {
    /// The filter's verdict on `view`, a panic taken as a drop; a drop is logged.
    pub(crate) fn judge(&self, view: &EmissionView<'_>) -> Verdict {
        let verdict =
            catch_unwind(AssertUnwindSafe(|| self.0.filter(view))).unwrap_or_else(|panic| {
                tracing::error!(
                    event = view.event, emission = view.emission.0, panic = %panic_message(&*panic),
                    "ventus emission filter panicked; the emission is dropped"
                );
                Verdict::Drop(Cow::Borrowed(PANICKED))
            });
        if let Verdict::Drop(reason) = &verdict {
            tracing::debug!(
                event = view.event,
                emission = view.emission.0,
                reason = %reason,
                "ventus emission filtered"
            );
        }
        verdict
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmissionFilter")
    }
}
