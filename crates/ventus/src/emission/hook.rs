//! A hook that sees each handler of each emission start and end.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::report::Outcome;
use crate::event::{EmissionId, SubscriptionId};
use crate::handler::panic_message;

/// One handler of one emission, as a [`HandlerHook`] sees it.
///
/// # Examples
///
/// ```
/// use ventus::{HandlerHook, HandlerInfo};
///
/// #[derive(Debug)]
/// struct SkipAudits;
///
/// impl HandlerHook for SkipAudits {
///     fn admit(&self, handler: &HandlerInfo<'_>) -> bool {
///         !handler.handler().ends_with("audit")
///     }
/// }
/// # let _ = SkipAudits;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HandlerInfo<'a> {
    pub(crate) event: &'a str,
    pub(crate) emission: EmissionId,
    pub(crate) subscription: SubscriptionId,
    pub(crate) handler: &'static str,
}

impl HandlerInfo<'_> {
    /// The name of the event emitted.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ventus::HandlerInfo;
    /// fn is_order(handler: &HandlerInfo<'_>) -> bool {
    ///     handler.event().starts_with("order.")
    /// }
    /// # let _ = is_order;
    /// ```
    pub fn event(&self) -> &str {
        self.event
    }

    /// The emission's id.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ventus::{EmissionId, HandlerInfo};
    /// fn emission_of(handler: &HandlerInfo<'_>) -> EmissionId {
    ///     handler.emission()
    /// }
    /// # let _ = emission_of;
    /// ```
    pub fn emission(&self) -> EmissionId {
        self.emission
    }

    /// The subscription the handler was linked with.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ventus::{HandlerInfo, SubscriptionId};
    /// fn subscription_of(handler: &HandlerInfo<'_>) -> SubscriptionId {
    ///     handler.subscription()
    /// }
    /// # let _ = subscription_of;
    /// ```
    pub fn subscription(&self) -> SubscriptionId {
        self.subscription
    }

    /// The handler's name: the one given with
    /// [`SubscribeBuilder::name`](crate::SubscribeBuilder::name), or its type's name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ventus::HandlerInfo;
    /// fn name_of<'a>(handler: &HandlerInfo<'a>) -> &'static str {
    ///     handler.handler()
    /// }
    /// # let _ = name_of;
    /// ```
    pub fn handler(&self) -> &'static str {
        self.handler
    }
}

/// Sees each handler of each emission before it starts, may keep it from starting, and
/// hears how it ended as soon as it did. Set on an emitter with
/// [`EventEmitterBuilder::handler_hook`](crate::EventEmitterBuilder::handler_hook).
///
/// This is how a worker that takes emissions from elsewhere runs only the handlers that
/// have not finished yet, and records each one's completion the moment it happens. The
/// hook is called on the thread that runs the emission, outside every ventus lock; keep
/// it short. A panic in it is caught and logged: a panicking [`admit`](Self::admit)
/// keeps the handler from starting, a panicking [`ended`](Self::ended) is ignored.
///
/// An emitter with a hook takes the full emission path for every emission (as
/// [`detailed_reports`](crate::EventEmitterBuilder::detailed_reports) does); emitters
/// without one pay nothing.
///
/// # Examples
///
/// Count the handlers that succeeded, and skip the one named `"slow"`:
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use ventus::{EventEmitter, EventLinker, HandlerHook, HandlerInfo, Outcome};
///
/// #[derive(Debug, Default)]
/// struct Tally(AtomicUsize);
///
/// impl HandlerHook for Tally {
///     fn admit(&self, handler: &HandlerInfo<'_>) -> bool {
///         handler.handler() != "slow"
///     }
///
///     fn ended(&self, _handler: &HandlerInfo<'_>, outcome: &Outcome) {
///         if outcome.is_success() {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("Job").name("fast").subscribe(|| ())?;
/// linker.on("Job").name("slow").subscribe(|| ())?;
///
/// let tally = Arc::new(Tally::default());
/// let emitter = EventEmitter::builder().linker(&linker).handler_hook(tally.clone()).build();
/// let report = emitter.emit("Job")?.wait().unwrap();
/// assert_eq!(report.counts().succeeded, 1, "`slow` did not start");
/// assert_eq!(tally.0.load(Ordering::Relaxed), 1);
/// # Ok(())
/// # }
/// ```
pub trait HandlerHook: Send + Sync + 'static {
    /// Whether `handler` starts in this emission. The default lets every handler start.
    /// A once-subscription this emission claimed and the hook keeps from starting is
    /// used up as if the emission had been cancelled before it started: it is unlinked
    /// and does not run.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{HandlerHook, HandlerInfo};
    ///
    /// #[derive(Debug)]
    /// struct OnlyNamed;
    ///
    /// impl HandlerHook for OnlyNamed {
    ///     fn admit(&self, handler: &HandlerInfo<'_>) -> bool {
    ///         !handler.handler().contains("closure")
    ///     }
    /// }
    /// # let _ = OnlyNamed;
    /// ```
    fn admit(&self, handler: &HandlerInfo<'_>) -> bool {
        let _ = handler;
        true
    }

    /// `handler` ended: it succeeded, failed (an error, a panic or a timeout) or was
    /// cancelled. Called once for each handler the emission's report counts, as soon as
    /// its end is known and after its failure callback (if any) ran; handlers cancelled
    /// before they started (the emission was cancelled) are told as cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{HandlerHook, HandlerInfo, Outcome};
    ///
    /// #[derive(Debug)]
    /// struct LogEnds;
    ///
    /// impl HandlerHook for LogEnds {
    ///     fn ended(&self, handler: &HandlerInfo<'_>, outcome: &Outcome) {
    ///         tracing::info!(handler = handler.handler(), ok = outcome.is_success(), "ended");
    ///     }
    /// }
    /// # let _ = LogEnds;
    /// ```
    fn ended(&self, handler: &HandlerInfo<'_>, outcome: &Outcome) {
        let _ = (handler, outcome);
    }
}

impl<H: HandlerHook + ?Sized> HandlerHook for std::sync::Arc<H> {
    fn admit(&self, handler: &HandlerInfo<'_>) -> bool {
        (**self).admit(handler)
    }

    fn ended(&self, handler: &HandlerInfo<'_>, outcome: &Outcome) {
        (**self).ended(handler, outcome);
    }
}

/// The hook an emitter holds.
pub(crate) struct Hook(pub(crate) Box<dyn HandlerHook>);

impl Hook {
    /// `admit`, with a panic taken as "no".
    pub(crate) fn admit(&self, info: &HandlerInfo<'_>) -> bool {
        catch_unwind(AssertUnwindSafe(|| self.0.admit(info))).unwrap_or_else(|panic| {
            tracing::error!(
                event = info.event, handler = info.handler, panic = %panic_message(&*panic),
                "ventus handler hook panicked in `admit`; the handler does not start"
            );
            false
        })
    }

    /// `ended`, with a panic caught and logged.
    pub(crate) fn ended(&self, info: &HandlerInfo<'_>, outcome: &Outcome) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.0.ended(info, outcome))) {
            tracing::error!(
                event = info.event, handler = info.handler, panic = %panic_message(&*panic),
                "ventus handler hook panicked in `ended`"
            );
        }
    }
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandlerHook")
    }
}
