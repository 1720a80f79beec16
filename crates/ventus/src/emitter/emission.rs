//! One emission: the event, its payload and the handlers it resolved.

use std::any::Any;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::SystemTime;

use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span};

use super::handle::{Cancel, Emitted, Tracker, TrackerGuard};
use super::report::{Counts, EmissionReport, HandlerReport, Outcome};
use super::{EmitterShared, Holding};
use crate::event::EventName;
use crate::handler::{
    drop_caught, guard_callback, panic_message, Ctx, ErasedCall, HandlerError, HandlerErrorKind,
    HandlerFuture, SharedPayload,
};
use crate::linker::registry::{EventEntry, Slot, Subscriber};
use crate::linker::LinkerInner;
use crate::processor::drain::{Drain, DrainGuard};
use crate::processor::tokio::{in_scope, SyncScope};

/// Identifies one emission; unique within the process, for emissions that find no
/// handler too. Ids start at 1.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// linker.on("Tick").subscribe(|| ())?;
/// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
/// let first = emitter.emit("Tick")?.id();
/// let second = emitter.emit("Tick")?.id();
/// assert_ne!(first, second, "unique within the process");
/// assert_ne!(emitter.emit("Nobody")?.id(), second, "an emission without handlers too");
/// assert_eq!(first.to_string(), format!("emission#{}", first.as_u64()));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmissionId(pub(crate) u64);

impl EmissionId {
    /// The id as a number.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Tick").subscribe(|| ())?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    /// let first = emitter.emit("Tick")?.id();
    /// let second = emitter.emit("Tick")?.id();
    /// assert_ne!(first.as_u64(), second.as_u64());
    /// # Ok(())
    /// # }
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for EmissionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "emission#{}", self.0)
    }
}

/// A payload moved into the emitter's stack frame, shared only if it has to be.
pub(crate) trait ErasedPayload: Send + Sync {
    fn get(&self) -> Option<&(dyn Any + Send + Sync)>;
    fn share(&mut self) -> Option<SharedPayload>;
}

impl<P: Send + Sync + 'static> ErasedPayload for Option<P> {
    fn get(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.as_ref().map(|p| p as &(dyn Any + Send + Sync))
    }

    fn share(&mut self) -> Option<SharedPayload> {
        self.take().map(|p| Arc::new(p) as SharedPayload)
    }
}

pub(crate) enum PayloadSlot<'a> {
    None,
    Borrowed(&'a mut dyn ErasedPayload),
    Shared(SharedPayload),
}

impl PayloadSlot<'_> {
    fn get(&self) -> Option<&(dyn Any + Send + Sync)> {
        match self {
            Self::None => None,
            Self::Borrowed(p) => p.get(),
            Self::Shared(p) => Some(&**p),
        }
    }

    fn share(&mut self) {
        if let Self::Borrowed(p) = self {
            *self = match p.share() {
                Some(shared) => Self::Shared(shared),
                None => Self::None,
            };
        }
    }

    fn shared(&self) -> Option<&SharedPayload> {
        match self {
            Self::Shared(p) => Some(p),
            _ => None,
        }
    }
}

/// Borrowed from the emitter's frame, or owned once the emission outlives it.
pub(crate) enum Shared<'a, T> {
    Borrowed(&'a Arc<T>),
    Owned(Arc<T>),
}

impl<T> Shared<'_, T> {
    fn get(&self) -> &T {
        match self {
            Self::Borrowed(t) => t,
            Self::Owned(t) => t,
        }
    }

    fn to_arc(&self) -> Arc<T> {
        match self {
            Self::Borrowed(t) => Arc::clone(t),
            Self::Owned(t) => t.clone(),
        }
    }

    fn into_owned(self) -> Shared<'static, T> {
        match self {
            Self::Borrowed(t) => Shared::Owned(t.clone()),
            Self::Owned(t) => Shared::Owned(t),
        }
    }
}

/// An emission's event name: borrowed from the registry's snapshot while the emission
/// stays in `emit`'s frame, owned once it leaves.
pub(crate) enum NameRef<'a> {
    Borrowed(&'a EventEntry),
    Owned(EventName),
}

impl NameRef<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Borrowed(entry) => &entry.name,
            Self::Owned(name) => name.as_str(),
        }
    }

    pub(crate) fn to_owned(&self) -> EventName {
        match self {
            Self::Borrowed(entry) => EventName::from_arc(Arc::clone(&entry.name)),
            Self::Owned(name) => name.clone(),
        }
    }

    fn into_owned(self) -> EventName {
        match self {
            Self::Borrowed(entry) => EventName::from_arc(Arc::clone(&entry.name)),
            Self::Owned(name) => name,
        }
    }

    /// The name for the emission's report: the snapshot's report name (a copy, for a
    /// short name, so the report costs no reference count shared with every thread
    /// emitting the event).
    #[inline]
    pub(crate) fn into_report(self) -> EventName {
        match self {
            Self::Borrowed(entry) => entry.report_name.clone(),
            Self::Owned(name) => name,
        }
    }
}

impl fmt::Display for NameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One emission, handed by the [`EventEmitter`](crate::EventEmitter) to a
/// [`Processor`](crate::Processor), which decides where it runs.
///
/// It holds the event's name, a process-unique id, the time it was made, the payload and
/// the handlers resolved when it was emitted (those linked to the event and to "any
/// event", each once, in subscription order). Once-subscriptions among them were claimed
/// for this emission before it was handed over.
///
/// `Emission<'a>` may borrow the emitter's stack frame (so an emission that runs at once
/// costs no allocation); [`track`](Self::track) makes an `Emission<'static>` that can be
/// spawned, with the [`Emitted`] handle that `emit` returns for it.
///
/// # Examples
///
/// A processor that runs every emission on a new thread:
///
/// ```
/// use ventus::{Emission, Emitted, EventEmitter, EventLinker, ProcessError, Processor};
///
/// #[derive(Debug)]
/// struct ThreadPerEmission;
///
/// impl Processor for ThreadPerEmission {
///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
///         let (emission, emitted) = emission.track(None);
///         std::thread::spawn(move || {
///             let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
///             rt.block_on(emission.run());
///         });
///         Ok(emitted)
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("Job").subscribe(|n: &u32| *n * 2)?;
///
/// let emitter = EventEmitter::builder().linker(&linker).processor(ThreadPerEmission).build();
/// let report = emitter.emit_with("Job", 21_u32)?.wait().unwrap();
/// assert_eq!(report.counts().succeeded, 1);
/// # Ok(())
/// # }
/// ```
pub struct Emission<'a> {
    pub(crate) id: EmissionId,
    /// When it was emitted; read from the clock only when someone needs it.
    pub(crate) time: OnceLock<SystemTime>,
    pub(crate) event: NameRef<'a>,
    pub(crate) payload: PayloadSlot<'a>,
    pub(crate) payload_type: Option<&'static str>,
    pub(crate) direct: Option<Shared<'a, EventEntry>>,
    pub(crate) any: Option<Shared<'a, EventEntry>>,
    /// Every handler that can run is sync and not `blocking`. Taken from the entries'
    /// flags, or, when they may hold claimed once-subscribers (which never run here but
    /// stay in a snapshot until a write compacts it), worked out over the others.
    pub(crate) inline: bool,
    /// Some handler that can run needs the payload shared; worked out as `inline`.
    pub(crate) needs_shared: bool,
    pub(crate) linker: Shared<'a, LinkerInner>,
    pub(crate) emitter: Shared<'a, EmitterShared>,
    /// Record each handler's outcome and duration.
    pub(crate) detailed: bool,
    /// Shared with the [`Emitted`] handle, for emissions that run elsewhere.
    pub(crate) tracker: Option<TrackerGuard>,
    /// A place under the emitter's `max_in_flight`, given back when the emission drops.
    pub(crate) permit: Option<OwnedSemaphorePermit>,
}

impl<'a> Emission<'a> {
    /// The emission's id.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use ventus::{Emission, EmissionId, Emitted, EventEmitter, ProcessError, Processor};
    ///
    /// #[derive(Debug, Default)]
    /// struct Record(Mutex<Option<EmissionId>>);
    ///
    /// impl Processor for Record {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         *self.0.lock().unwrap() = Some(emission.id());
    ///         emission.try_run_inline().map_err(|_| ProcessError::Closed)
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Tick").subscribe(|| ())?;
    /// let emitter = EventEmitter::builder().linker(&linker).processor(Record::default()).build();
    /// let emitted = emitter.emit("Tick")?;
    /// assert_eq!(*emitter.processor().0.lock().unwrap(), Some(emitted.id()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn id(&self) -> EmissionId {
        self.id
    }

    /// When it was emitted.
    ///
    /// Emissions that run at once on the caller's thread read the clock only if asked
    /// (by this call, or by a handler taking [`AnyEvent`](crate::AnyEvent)); the others
    /// read it before they leave the caller's thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use ventus::{Emission, Emitted, EventEmitter, ProcessError, Processor};
    ///
    /// #[derive(Debug)]
    /// struct NotInTheFuture;
    ///
    /// impl Processor for NotInTheFuture {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         assert!(emission.time() <= SystemTime::now());
    ///         emission.try_run_inline().map_err(|_| ProcessError::Closed)
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Tick").subscribe(|| ())?;
    /// let emitter = EventEmitter::builder().linker(&linker).processor(NotInTheFuture).build();
    /// emitter.emit("Tick")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn time(&self) -> SystemTime {
        *self.time.get_or_init(SystemTime::now)
    }

    /// The event's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{Emission, Emitted, EventEmitter, ProcessError, Processor};
    ///
    /// #[derive(Debug)]
    /// struct OnlyTicks;
    ///
    /// impl Processor for OnlyTicks {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         if emission.event() != "Tick" {
    ///             return Err(ProcessError::Failed(format!("no `{}` here", emission.event()).into()));
    ///         }
    ///         emission.try_run_inline().map_err(|_| ProcessError::Closed)
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Tick").subscribe(|| ())?;
    /// linker.on("Tock").subscribe(|| ())?;
    /// let emitter = EventEmitter::builder().linker(&linker).processor(OnlyTicks).build();
    /// assert!(emitter.emit("Tick").is_ok());
    /// assert!(emitter.emit("Tock").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn event(&self) -> &str {
        self.event.as_str()
    }

    /// The payload's type name; `None` for an event emitted without one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use ventus::{Emission, Emitted, EventEmitter, ProcessError, Processor};
    ///
    /// #[derive(Debug, Default)]
    /// struct Types(Mutex<Vec<Option<&'static str>>>);
    ///
    /// impl Processor for Types {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         self.0.lock().unwrap().push(emission.payload_type());
    ///         emission.try_run_inline().map_err(|_| ProcessError::Closed)
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Tick").subscribe(|| ())?;
    /// let emitter = EventEmitter::builder().linker(&linker).processor(Types::default()).build();
    /// emitter.emit("Tick")?;
    /// emitter.emit_with("Tick", 5_u32)?;
    /// assert_eq!(*emitter.processor().0.lock().unwrap(), [None, Some("u32")]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn payload_type(&self) -> Option<&'static str> {
        self.payload_type
    }

    /// How many handlers this emission will run, counting only those that can still run.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{Emission, Emitted, EventEmitter, ProcessError, Processor};
    ///
    /// #[derive(Debug)]
    /// struct ExpectTwo;
    ///
    /// impl Processor for ExpectTwo {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         assert_eq!(emission.handler_count(), 2);
    ///         emission.try_run_inline().map_err(|_| ProcessError::Closed)
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Tick").subscribe(|| ())?;
    /// linker.on_any().subscribe(|| ())?; // "any event" handlers count too
    /// let emitter = EventEmitter::builder().linker(&linker).processor(ExpectTwo).build();
    /// emitter.emit("Tick")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn handler_count(&self) -> usize {
        self.handlers()
            .filter(|s| s.state.runs_in(s.once, self.id.0))
            .count()
    }

    /// Whether every handler is sync and not `blocking`, so that
    /// [`try_run_inline`](Self::try_run_inline) runs the emission without a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{Emission, Emitted, EventEmitter, ProcessError, Processor};
    ///
    /// #[derive(Debug)]
    /// struct SyncOnly;
    ///
    /// impl Processor for SyncOnly {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         if !emission.is_inline() {
    ///             return Err(ProcessError::Failed("async handlers need a runtime".into()));
    ///         }
    ///         emission.try_run_inline().map_err(|_| ProcessError::Closed)
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Sync").subscribe(|| ())?;
    /// linker.on("Async").subscribe(|| async {})?;
    /// let emitter = EventEmitter::builder().linker(&linker).processor(SyncOnly).build();
    /// assert!(emitter.emit("Sync").is_ok());
    /// assert!(emitter.emit("Async").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_inline(&self) -> bool {
        self.inline
    }

    /// Moves everything the emission borrows into owned storage, so it can outlive the
    /// `emit` call (be spawned or sent to another thread).
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{Emission, Emitted, EventEmitter, ProcessError, Processor};
    ///
    /// /// Runs each emission on a thread of its own and waits for it.
    /// #[derive(Debug)]
    /// struct OtherThread;
    ///
    /// impl Processor for OtherThread {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         let owned: Emission<'static> = emission.into_owned();
    ///         std::thread::spawn(move || owned.try_run_inline().map_err(|_| ProcessError::Closed))
    ///             .join()
    ///             .map_err(|_| ProcessError::Failed("the thread panicked".into()))?
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|n: &u32| *n + 1)?;
    /// let emitter = EventEmitter::builder().linker(&linker).processor(OtherThread).build();
    /// let report = emitter.emit_with("Job", 1_u32)?.wait().expect("finished on the other thread");
    /// assert_eq!(report.counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_owned(mut self) -> Emission<'static> {
        self.time();
        self.payload.share();
        let payload = match self.payload {
            PayloadSlot::Shared(p) => PayloadSlot::Shared(p),
            PayloadSlot::None | PayloadSlot::Borrowed(_) => PayloadSlot::None,
        };
        Emission {
            id: self.id,
            time: self.time,
            event: NameRef::Owned(self.event.into_owned()),
            payload,
            payload_type: self.payload_type,
            direct: self.direct.map(Shared::into_owned),
            any: self.any.map(Shared::into_owned),
            inline: self.inline,
            needs_shared: self.needs_shared,
            linker: self.linker.into_owned(),
            emitter: self.emitter.into_owned(),
            detailed: self.detailed,
            tracker: self.tracker,
            permit: self.permit,
        }
    }

    /// Makes the emission owned and ties it to a new [`Emitted`] handle, for processors
    /// that run it later or elsewhere: the handle's report arrives when
    /// [`run`](Self::run) ends. With `parent`, cancelling `parent` cancels the emission
    /// too (a processor's shutdown uses this).
    ///
    /// # Examples
    ///
    /// A processor whose token cancels every emission it has spawned:
    ///
    /// ```
    /// use ventus::{CancellationToken, Emission, Emitted, EventEmitter, ProcessError, Processor};
    ///
    /// #[derive(Debug, Default)]
    /// struct Spawner(CancellationToken);
    ///
    /// impl Processor for Spawner {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         let (emission, emitted) = emission.track(Some(&self.0));
    ///         tokio::spawn(emission.run());
    ///         Ok(emitted)
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Forever").subscribe(|| std::future::pending::<()>())?;
    /// let emitter = EventEmitter::builder().linker(&linker).processor(Spawner::default()).build();
    /// let emitted = emitter.emit("Forever")?;
    /// emitter.processor().0.cancel();
    /// assert_eq!(emitted.await.counts().cancelled, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn track(self, parent: Option<&CancellationToken>) -> (Emission<'static>, Emitted) {
        self.track_with(None, parent.cloned(), None)
    }

    /// [`track`](Self::track) in a processor's `drain`: under its lock-free shutdown
    /// signal, and counted in its in-flight count from now until just before the report
    /// is published (see [`Processor::in_flight`](crate::Processor::in_flight)).
    pub(crate) fn track_in(self, drain: &Arc<Drain>) -> (Emission<'static>, Emitted) {
        let ticket = drain.enter();
        self.track_with(
            Some(drain.cancel_all.clone()),
            None,
            Some((ticket, drain.pool)),
        )
    }

    /// Drops a tracked emission its processor refused: it leaves the in-flight count
    /// without being counted as finished or cancelled.
    #[cfg_attr(not(feature = "thread-pool"), allow(dead_code))]
    pub(crate) fn refused(mut self) {
        let ticket = self.tracker.as_mut().and_then(|guard| {
            // `emit` returned an error for it: no handler counts as cancelled.
            guard.handlers = 0;
            guard.ticket.take()
        });
        drop(ticket);
        drop(self);
    }

    fn track_with(
        self,
        parent: Option<Arc<Cancel>>,
        external: Option<CancellationToken>,
        drain: Option<(DrainGuard, u64)>,
    ) -> (Emission<'static>, Emitted) {
        let (ticket, pool) = drain.map_or((None, 0), |(ticket, pool)| (Some(ticket), pool));
        let tracker = Tracker::new(pool);
        let mut emission = self.into_owned();
        let emitter = match &emission.emitter {
            Shared::Owned(shared) => shared.clone(),
            Shared::Borrowed(shared) => Arc::clone(shared),
        };
        emission.tracker = Some(TrackerGuard {
            tracker: tracker.clone(),
            id: emission.id,
            event: emission.event.to_owned(),
            handlers: u32::try_from(emission.handler_count()).unwrap_or(u32::MAX),
            emitter,
            parent,
            external,
            ticket,
        });
        let emitted = Emitted::tracked(emission.id, tracker);
        (emission, emitted)
    }

    /// The token that cancels this emission, if it is tracked. [`Emitted::cancel`]
    /// cancels it too.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{Emission, Emitted, EventEmitter, ProcessError, Processor};
    ///
    /// #[derive(Debug)]
    /// struct CancelAtOnce;
    ///
    /// impl Processor for CancelAtOnce {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         assert!(emission.cancellation().is_none(), "not tracked yet");
    ///         let (emission, emitted) = emission.track(None);
    ///         let token = emission.cancellation().expect("tracked").clone();
    ///         tokio::spawn(emission.run());
    ///         token.cancel(); // as `emitted.cancel()` would
    ///         Ok(emitted)
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Forever").subscribe(|| std::future::pending::<()>())?;
    /// let emitter = EventEmitter::builder().linker(&linker).processor(CancelAtOnce).build();
    /// assert_eq!(emitter.emit("Forever")?.await.counts().cancelled, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn cancellation(&self) -> Option<&CancellationToken> {
        self.tracker
            .as_ref()
            .map(|t| t.tracker.token.get_or_init(CancellationToken::new))
    }

    /// Whether this tracked emission was asked to stop: by its handle, its token or
    /// its processor's shutdown.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.tracker
            .as_ref()
            .is_some_and(TrackerGuard::is_cancelled)
    }

    pub(crate) fn prepare(&mut self) {
        if self.needs_shared {
            self.payload.share();
        }
    }

    fn handlers(&self) -> Merge<'_> {
        Merge {
            a: self
                .direct
                .as_ref()
                .map_or(&[], |e| &e.get().subscribers[..]),
            b: self.any.as_ref().map_or(&[], |e| &e.get().subscribers[..]),
        }
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx::new(
            &self.event,
            self.id,
            &self.time,
            self.payload.get(),
            self.payload_type,
            self.payload.shared(),
            self.linker.get().on_success.as_ref(),
        )
    }

    fn span(&self) -> Span {
        tracing::debug_span!("ventus.emission", event = %self.event, emission = self.id.0)
    }

    fn handler_span(&self, sub: &Subscriber) -> Span {
        tracing::debug_span!(
            "ventus.handler",
            handler = sub.handler.name,
            subscription = sub.id.0,
            outcome = tracing::field::Empty,
            duration_us = tracing::field::Empty,
        )
    }

    #[inline]
    fn timeout_of(&self, sub: &Subscriber) -> Option<Duration> {
        sub.timeout.or(self.emitter.get().timeout)
    }

    /// Whether the handler's start time is needed (for a report, a timeout or a span).
    #[inline]
    fn needs_clock(&self, sub: &Subscriber, span: &Span) -> bool {
        self.detailed || self.timeout_of(sub).is_some() || !span.is_disabled()
    }

    /// The handler's start time, read only when something needs it.
    #[inline]
    fn begin(&self, sub: &Subscriber, span: &Span) -> Option<Instant> {
        self.needs_clock(sub, span).then(Instant::now)
    }

    /// Marks this thread as holding the emission's place under its emitter's
    /// `max_in_flight` bound while its handlers run here, so a handler that emits on the
    /// same emitter is refused rather than wait for that place. Nothing (no thread-local
    /// touched) for an emission without a place.
    #[inline]
    fn holding(&self) -> Option<Holding> {
        self.permit.as_ref()?;
        self.emitter.get().limit.as_ref().map(Holding::enter)
    }

    /// Runs the emission to its end on this thread if every handler is inline
    /// ([`is_inline`](Self::is_inline)); otherwise gives it back untouched.
    ///
    /// # Errors
    ///
    /// Returns the emission itself when some handler is async or `blocking`; drive it
    /// with [`run`](Self::run) on a runtime instead.
    // The emission is given back by value: boxing it would allocate on the path of every
    // sync-context emission that needs a runtime.
    /// # Examples
    ///
    /// A processor that runs sync emissions on the caller's thread and spawns the others:
    ///
    /// ```
    /// use ventus::{Emission, Emitted, EventEmitter, ProcessError, Processor};
    ///
    /// #[derive(Debug)]
    /// struct InlineFirst;
    ///
    /// impl Processor for InlineFirst {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         match emission.try_run_inline() {
    ///             Ok(emitted) => Ok(emitted),
    ///             Err(emission) => {
    ///                 let (emission, emitted) = emission.track(None);
    ///                 tokio::spawn(emission.run());
    ///                 Ok(emitted)
    ///             }
    ///         }
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Sync").subscribe(|| ())?;
    /// linker.on("Async").subscribe(|| async {})?;
    /// let emitter = EventEmitter::builder().linker(&linker).processor(InlineFirst).build();
    /// assert!(emitter.emit("Sync")?.is_finished(), "ran inside `emit`");
    /// assert_eq!(emitter.emit("Async")?.await.counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    #[allow(clippy::result_large_err)]
    pub fn try_run_inline(self) -> Result<Emitted, Self> {
        if !self.is_inline() {
            return Err(self);
        }
        let mut rec = Recorder::new(self.detailed, self.handler_bound());
        {
            let _holding = self.holding();
            let span = self.span();
            let _entered = span.enter();
            let ctx = self.ctx();
            for sub in self.handlers() {
                if !self.may_start(sub) {
                    continue;
                }
                let ErasedCall::Sync(call) = &sub.handler.call else {
                    // `is_inline` rules this out for every handler that can run.
                    continue;
                };
                let span = self.handler_span(sub);
                let _entered = span.enter();
                let started = self.begin(sub, &span);
                ctx.deadline.set(deadline_of(self.timeout_of(sub), started));
                let result = call_caught(|| call(&ctx));
                self.settle(&mut rec, sub, result, started, &span);
            }
        }
        Ok(self.finish(rec, false))
    }

    /// Runs every handler and completes when all have finished (or the emission was
    /// cancelled); a tracked emission's handle then receives the report.
    ///
    /// Handlers start in subscription order. A sync handler runs to its end when it is
    /// reached; an async handler is polled once at once, then interleaves with the
    /// others; a `blocking` handler runs on tokio's blocking pool (or on this thread if
    /// there is no runtime). Failures and panics go to the failure callbacks.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the async handlers that have not finished; `blocking`
    /// handlers already started run to their end on their thread. Every handler that
    /// finished has had its callbacks called. A tracked emission dropped this way never
    /// sends its report; its handle waits on. Cancel with [`Emitted::cancel`] to get one.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{Emission, Emitted, EventEmitter, ProcessError, Processor};
    ///
    /// #[derive(Debug)]
    /// struct Spawn;
    ///
    /// impl Processor for Spawn {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         let (emission, emitted) = emission.track(None);
    ///         tokio::spawn(emission.run()); // the handle's report arrives when `run` ends
    ///         Ok(emitted)
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|n: u32| async move { n * 2 })?;
    /// linker.on("Job").subscribe(|n: &u32| *n + 1)?;
    /// let emitter = EventEmitter::builder().linker(&linker).processor(Spawn).build();
    /// assert_eq!(emitter.emit_with("Job", 2_u32)?.await.counts().succeeded, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run(self) {
        let _ = self.run_report().await;
    }

    /// [`run`](Self::run), returning the report's handle.
    pub(crate) async fn run_report(mut self) -> Emitted {
        self.prepare();
        let mut rec = Recorder::new(self.detailed, self.handler_bound()).tracking(&mut self);
        let span = self.span();
        let cancelled = {
            let this = &self;
            let rec = &mut rec;
            // Polled only once some handler is still running after the first pass, so an
            // emission whose handlers all finish at once never registers as a waiter.
            let watch = async {
                match &this.tracker {
                    Some(guard) => guard.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(watch);
            let ctx = this.ctx();
            let mut handlers = this.handlers();
            let mut pending: Vec<Running<'_>> = Vec::new();
            let mut started = false;
            poll_fn(move |cx| {
                let _holding = this.holding();
                if started {
                    if watch.as_mut().poll(cx).is_ready() {
                        this.cancel_rest(rec, &mut pending, &mut handlers);
                        return Poll::Ready(true);
                    }
                    pending.retain_mut(|run| match run.poll(cx) {
                        Poll::Ready(result) => {
                            this.settle_run(rec, run, result);
                            false
                        }
                        Poll::Pending => true,
                    });
                    return if pending.is_empty() {
                        Poll::Ready(false)
                    } else {
                        Poll::Pending
                    };
                }
                started = true;
                if this.is_cancelled() {
                    this.cancel_rest(rec, &mut pending, &mut handlers);
                    return Poll::Ready(true);
                }
                // When a handler ends within this pass, the clock read that ends it also
                // starts the next one.
                let mut now: Option<Instant> = None;
                for sub in handlers.by_ref() {
                    if !this.may_start(sub) {
                        continue;
                    }
                    let span = this.handler_span(sub);
                    let begun = this
                        .needs_clock(sub, &span)
                        .then(|| now.take().unwrap_or_else(Instant::now));
                    let mut run = match this.start(sub, &ctx, begun, &span) {
                        Started::Done(result) => {
                            now = this.settle(rec, sub, result, begun, &span);
                            continue;
                        }
                        Started::Running(fut) => Running::new(this, sub, fut, begun, span),
                        Started::Blocking(fut) => {
                            Running::new(this, sub, fut, begun, span).reported()
                        }
                    };
                    // Polled now, so handlers start in subscription order.
                    match run.poll(cx) {
                        Poll::Ready(result) => now = this.settle_run(rec, &run, result),
                        Poll::Pending => {
                            now = None;
                            pending.push(run);
                        }
                    }
                }
                if pending.is_empty() {
                    return Poll::Ready(false);
                }
                if watch.as_mut().poll(cx).is_ready() {
                    this.cancel_rest(rec, &mut pending, &mut handlers);
                    return Poll::Ready(true);
                }
                Poll::Pending
            })
            .instrument(span)
            .await
        };
        self.finish(rec, cancelled)
    }

    /// Reports the running handlers and those not started as cancelled.
    fn cancel_rest(
        &self,
        rec: &mut Recorder,
        pending: &mut Vec<Running<'_>>,
        rest: &mut Merge<'_>,
    ) {
        for run in pending.drain(..) {
            self.settle_cancelled(rec, run.sub, run.started, &run.span);
        }
        for sub in rest {
            if sub.state.runs_in(sub.once, self.id.0) {
                self.settle_cancelled(rec, sub, None, &Span::none());
            }
        }
    }

    /// Whether `sub`'s handler may start now in this emission (see
    /// [`ClaimState::start`](crate::claim::ClaimState::start)). A once-subscriber is
    /// retired when it starts: from then on its claim is final, and the handler sees
    /// itself unlinked. The emitter retires the claims not started.
    #[inline]
    fn may_start(&self, sub: &Subscriber) -> bool {
        if !sub.state.start(sub.once, self.id.0) {
            return false;
        }
        if sub.once {
            self.linker.get().registry.retire(sub.id);
        }
        true
    }

    /// At least as many handlers as this emission runs, without walking them.
    fn handler_bound(&self) -> usize {
        self.direct
            .as_ref()
            .map_or(0, |e| e.get().subscribers.len())
            + self.any.as_ref().map_or(0, |e| e.get().subscribers.len())
    }

    fn start(
        &self,
        sub: &Arc<Subscriber>,
        ctx: &Ctx<'_>,
        begun: Option<Instant>,
        span: &Span,
    ) -> Started {
        let _entered = span.enter();
        let deadline = deadline_of(self.timeout_of(sub), begun);
        match &sub.handler.call {
            ErasedCall::Sync(call) if sub.blocking => match tokio::runtime::Handle::try_current() {
                Ok(handle) => Started::Blocking(self.spawn_blocking(&handle, sub, deadline)),
                Err(_) => {
                    ctx.deadline.set(deadline);
                    Started::Done(call_caught(|| call(ctx)))
                }
            },
            ErasedCall::Sync(call) => {
                ctx.deadline.set(deadline);
                Started::Done(call_caught(|| call(ctx)))
            }
            ErasedCall::Async(call) => match catch_unwind(AssertUnwindSafe(|| call(ctx))) {
                Ok(Ok(fut)) => Started::Running(fut),
                Ok(Err(kind)) => Started::Done(Err(kind)),
                Err(panic) => {
                    Started::Done(Err(HandlerErrorKind::Panicked(panic_message(&*panic))))
                }
            },
        }
    }

    /// Runs a `blocking` handler on the blocking pool together with its callbacks
    /// (Pyventus's `force_async` covers all three): the success callback runs inside the
    /// handler's call, and a failure is reported there too, so one subscriber's callables
    /// share a thread and a slow callback holds up no runtime thread. Every `Err` the
    /// returned future yields has been reported already.
    fn spawn_blocking(
        &self,
        handle: &tokio::runtime::Handle,
        sub: &Arc<Subscriber>,
        deadline: Option<(Instant, Duration)>,
    ) -> HandlerFuture {
        let sub = sub.clone();
        let event = self.event.to_owned();
        let (id, time, payload_type) = (self.id, OnceLock::from(self.time()), self.payload_type);
        let shared = self.payload.shared().cloned();
        let linker = self.linker.to_arc();
        let scope = SyncScope::current();
        // `start` entered the handler's span: it follows the handler to its thread.
        let span = Span::current();
        let task = handle.spawn_blocking({
            let (sub, event, linker) = (sub.clone(), NameRef::Owned(event.clone()), linker.clone());
            move || {
                let _entered = span.enter();
                let ctx = Ctx::new(
                    &event,
                    id,
                    &time,
                    shared.as_deref(),
                    payload_type,
                    shared.as_ref(),
                    linker.on_success.as_ref(),
                );
                ctx.deadline.set(deadline);
                let result = in_scope(scope, || match &sub.handler.call {
                    ErasedCall::Sync(call) => call_caught(|| call(&ctx)),
                    ErasedCall::Async(_) => Ok(()),
                });
                result.map_err(|kind| fail(&event, id, &linker, &sub, kind).into_kind())
            }
        });
        Box::pin(async move {
            match task.await {
                Ok(result) => result,
                // The task never ran (its runtime is shutting down): reported here.
                Err(err) => {
                    let kind = match err.try_into_panic() {
                        Ok(panic) => HandlerErrorKind::Panicked(panic_message(&*panic)),
                        Err(err) => HandlerErrorKind::Failed(Box::new(err)),
                    };
                    Err(fail(&NameRef::Owned(event), id, &linker, &sub, kind).into_kind())
                }
            }
        })
    }

    /// Records how a started handler ended, as [`settle`](Self::settle) does.
    #[inline]
    fn settle_run(
        &self,
        rec: &mut Recorder,
        run: &Running<'_>,
        result: Result<(), HandlerErrorKind>,
    ) -> Option<Instant> {
        match result {
            Err(kind) if run.reported => {
                self.settle_reported(rec, run.sub, kind, run.started, &run.span);
                None
            }
            result => self.settle(rec, run.sub, result, run.started, &run.span),
        }
    }

    /// Records how a handler started with [`spawn_blocking`](Self::spawn_blocking) ended:
    /// its failure was reported on its own thread, so only the outcome is recorded here.
    #[cold]
    #[inline(never)]
    fn settle_reported(
        &self,
        rec: &mut Recorder,
        sub: &Subscriber,
        kind: HandlerErrorKind,
        started: Option<Instant>,
        span: &Span,
    ) {
        let ended = started.map(|_| Instant::now());
        let err = handler_error(&self.event, self.id, sub, kind);
        rec.add_ended(sub, Outcome::Failed(err), started, ended, span);
    }

    /// Records how a handler ended; a failure goes to its callback and the log. Returns
    /// the time it ended, if the clock was read for it.
    #[inline]
    fn settle(
        &self,
        rec: &mut Recorder,
        sub: &Subscriber,
        result: Result<(), HandlerErrorKind>,
        started: Option<Instant>,
        span: &Span,
    ) -> Option<Instant> {
        // The common case, with nothing to time or record: just count it.
        if result.is_ok() && rec.details.is_none() && started.is_none() {
            rec.counts.succeeded += 1;
            None
        } else {
            self.settle_in_full(rec, sub, result, started, span)
        }
    }

    #[inline(never)]
    fn settle_in_full(
        &self,
        rec: &mut Recorder,
        sub: &Subscriber,
        result: Result<(), HandlerErrorKind>,
        started: Option<Instant>,
        span: &Span,
    ) -> Option<Instant> {
        // Read before the failure callback runs: the handler's own time only.
        let ended = started.map(|_| Instant::now());
        let (outcome, next) = match result {
            Ok(()) => (Outcome::Succeeded, ended),
            // The callback ran after `ended`: the next handler reads the clock afresh.
            Err(kind) => (Outcome::Failed(self.fail(sub, kind)), None),
        };
        rec.add_ended(sub, outcome, started, ended, span);
        next
    }

    fn settle_cancelled(
        &self,
        rec: &mut Recorder,
        sub: &Subscriber,
        started: Option<Instant>,
        span: &Span,
    ) {
        tracing::debug!(
            event = %self.event, emission = self.id.0, subscription = sub.id.0,
            handler = sub.handler.name, "ventus handler cancelled"
        );
        rec.add(sub, Outcome::Cancelled, started, span);
    }

    /// Sends a failure to the subscriber's callback, or the linker's, and logs it.
    fn fail(&self, sub: &Subscriber, kind: HandlerErrorKind) -> HandlerError {
        fail(&self.event, self.id, self.linker.get(), sub, kind)
    }

    /// Publishes the outcome: counters, the processor's in-flight count, the handle's
    /// report, in this order. `cancelled`: the emission was cancelled.
    fn finish(mut self, mut rec: Recorder, cancelled: bool) -> Emitted {
        let ticket = match rec.unfinished.take() {
            Some(unfinished) => unfinished.ticket,
            None => self.tracker.as_mut().and_then(|g| g.ticket.take()),
        };
        self.emitter.get().metrics.record(&rec.counts);
        let report = EmissionReport {
            id: self.id,
            event: self.event.into_report(),
            counts: rec.counts,
            handlers: rec.details.take().unwrap_or_default(),
        };
        // Out of the in-flight count before the report is out: whoever has the report
        // sees a count without this emission (the order `Processor::in_flight` promises).
        if let Some(ticket) = ticket {
            ticket.end(cancelled);
        }
        match &self.tracker {
            Some(guard) => {
                guard.tracker.finish(report);
                Emitted::tracked(self.id, guard.tracker.clone())
            }
            None => Emitted::done(report),
        }
    }
}

/// Outcomes gathered while an emission runs.
struct Recorder {
    counts: Counts,
    details: Option<Vec<HandlerReport>>,
    /// For a tracked emission, until it finishes: what to report if it is dropped first.
    unfinished: Option<Unfinished>,
}

/// A tracked emission that has not sent its report yet.
struct Unfinished {
    tracker: Arc<Tracker>,
    id: EmissionId,
    event: EventName,
    handlers: u32,
    emitter: Arc<EmitterShared>,
    /// The emission's place in its processor's in-flight count, moved here with the
    /// duty to report: ended before the report is published, however the run ends.
    ticket: Option<DrainGuard>,
}

impl Recorder {
    /// `handlers`: room to reserve for the detailed list.
    fn new(detailed: bool, handlers: usize) -> Self {
        Self {
            counts: Counts::default(),
            details: detailed.then(|| Vec::with_capacity(handlers)),
            unfinished: None,
        }
    }

    /// Makes sure the handle of `emission` hears of its end even if the run is dropped
    /// (its runtime shut down): the handlers not done by then count as cancelled.
    fn tracking(mut self, emission: &mut Emission<'_>) -> Self {
        let id = emission.id;
        self.unfinished = emission.tracker.as_mut().map(|guard| Unfinished {
            tracker: guard.tracker.clone(),
            id,
            event: guard.event.clone(),
            handlers: guard.handlers,
            emitter: guard.emitter.clone(),
            ticket: guard.ticket.take(),
        });
        self
    }

    fn add(&mut self, sub: &Subscriber, outcome: Outcome, started: Option<Instant>, span: &Span) {
        let ended = started.map(|_| Instant::now());
        self.add_ended(sub, outcome, started, ended, span);
    }

    fn add_ended(
        &mut self,
        sub: &Subscriber,
        outcome: Outcome,
        started: Option<Instant>,
        ended: Option<Instant>,
        span: &Span,
    ) {
        self.counts.add(&outcome);
        let duration = started
            .zip(ended)
            .map(|(s, e)| e.saturating_duration_since(s))
            .unwrap_or_default();
        if !span.is_disabled() {
            span.record("outcome", outcome_name(&outcome));
            span.record("duration_us", duration.as_micros() as u64);
        }
        if let Some(details) = &mut self.details {
            details.push(HandlerReport {
                subscription: sub.id,
                handler: sub.handler.name,
                outcome,
                duration,
            });
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let Some(unfinished) = self.unfinished.take() else {
            return;
        };
        let mut counts = self.counts;
        counts.cancelled += unfinished.handlers.saturating_sub(counts.total());
        unfinished.emitter.metrics.record(&counts);
        // Dropped before it ended (its runtime shut down): cancelled, and out of the
        // in-flight count before the report, as in `Emission::finish`.
        if let Some(ticket) = unfinished.ticket {
            ticket.end(true);
        }
        unfinished.tracker.finish(EmissionReport {
            id: unfinished.id,
            event: unfinished.event,
            counts,
            handlers: self.details.take().unwrap_or_default(),
        });
    }
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed(err) if err.is_panic() => "panicked",
        Outcome::Failed(err) if err.is_timeout() => "timed out",
        Outcome::Failed(_) => "failed",
        Outcome::Cancelled => "cancelled",
    }
}

/// An async (or `blocking`) handler that has started and not finished.
struct Running<'e> {
    sub: &'e Arc<Subscriber>,
    fut: Isolated,
    /// Fires at the handler's timeout, if it has one.
    timer: Option<(Pin<Box<tokio::time::Sleep>>, Duration)>,
    started: Option<Instant>,
    span: Span,
    /// Its failures were reported where it ran (a `blocking` handler's thread).
    reported: bool,
}

impl<'e> Running<'e> {
    fn reported(self) -> Self {
        Self {
            reported: true,
            ..self
        }
    }

    fn new(
        emission: &Emission<'_>,
        sub: &'e Arc<Subscriber>,
        fut: HandlerFuture,
        started: Option<Instant>,
        span: Span,
    ) -> Self {
        // `blocking` handlers keep sync semantics: they are reported when they return.
        let timer = match (emission.timeout_of(sub), sub.blocking) {
            (Some(timeout), false) => match catch_unwind(|| tokio::time::sleep(timeout)) {
                Ok(sleep) => Some((Box::pin(sleep), timeout)),
                Err(_) => {
                    tracing::warn!(
                        handler = sub.handler.name,
                        "ventus handler timeout ignored: the runtime has no time driver \
                             (build it with `enable_time` or `enable_all`)"
                    );
                    None
                }
            },
            _ => None,
        };
        Self {
            sub,
            fut: Isolated::new(fut, sub.handler.name),
            timer,
            started,
            span,
            reported: false,
        }
    }

    fn poll(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<(), HandlerErrorKind>> {
        let _entered = self.span.enter();
        let caught = catch_unwind(AssertUnwindSafe(|| {
            if let Poll::Ready(result) = self.fut.poll(cx) {
                return Poll::Ready(result);
            }
            if let Some((sleep, timeout)) = &mut self.timer {
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(HandlerErrorKind::TimedOut(*timeout)));
                }
            }
            Poll::Pending
        }));
        caught.unwrap_or_else(|panic| {
            Poll::Ready(Err(HandlerErrorKind::Panicked(panic_message(&*panic))))
        })
    }
}

enum Started {
    Done(Result<(), HandlerErrorKind>),
    Running(HandlerFuture),
    /// A `blocking` handler on the blocking pool; it reports its own failures.
    Blocking(HandlerFuture),
}

/// A handler's future whose drop is isolated as its polls are: dropping it runs the
/// user's destructors (of what the future holds), and a panic there is logged and goes
/// no further, so a handler that times out, is cancelled or whose runtime shuts down
/// never takes its emission down with it.
pub(crate) struct Isolated {
    /// `None` only inside `drop`.
    fut: Option<HandlerFuture>,
    /// The handler's name, for the log of a panicking drop.
    handler: &'static str,
}

impl Isolated {
    pub(crate) fn new(fut: HandlerFuture, handler: &'static str) -> Self {
        Self {
            fut: Some(fut),
            handler,
        }
    }

    /// Polls the future; a panic in it unwinds to the caller, which catches it.
    #[inline]
    pub(crate) fn poll(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Result<(), HandlerErrorKind>> {
        match &mut self.fut {
            Some(fut) => fut.as_mut().poll(cx),
            None => unreachable!("an isolated future is only taken by its drop"),
        }
    }
}

impl Drop for Isolated {
    fn drop(&mut self) {
        drop_caught(self.handler, self.fut.take());
    }
}

/// The deadline of a handler started at `started` with `timeout`, and the timeout.
/// `None` without a timeout, and for one so long that the clock cannot add it
/// (`Duration::MAX`, say): such a timeout never fires, so it is no timeout.
#[inline]
fn deadline_of(timeout: Option<Duration>, started: Option<Instant>) -> Option<(Instant, Duration)> {
    let (timeout, started) = timeout.zip(started)?;
    Some((started.checked_add(timeout)?, timeout))
}

#[inline]
pub(crate) fn call_caught(
    f: impl FnOnce() -> Result<(), HandlerErrorKind>,
) -> Result<(), HandlerErrorKind> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|panic| Err(HandlerErrorKind::Panicked(panic_message(&*panic))))
}

fn handler_error(
    event: &NameRef<'_>,
    emission: EmissionId,
    sub: &Subscriber,
    kind: HandlerErrorKind,
) -> HandlerError {
    HandlerError {
        event: event.to_owned(),
        handler: sub.handler.name,
        subscription: sub.id,
        emission,
        kind,
    }
}

/// Sends a handler's failure to the subscriber's callback, or the linker's, and logs it.
#[cold]
#[inline(never)]
pub(crate) fn fail(
    event: &NameRef<'_>,
    emission: EmissionId,
    linker: &LinkerInner,
    sub: &Subscriber,
    kind: HandlerErrorKind,
) -> HandlerError {
    let err = handler_error(event, emission, sub, kind);
    match sub.on_failure.as_ref().or(linker.on_failure.as_ref()) {
        Some(callback) => {
            tracing::warn!(
                event = %err.event, emission = emission.0, subscription = sub.id.0,
                handler = sub.handler.name, error = %err, "ventus handler failed"
            );
            guard_callback("failure callback", || callback(&err));
        }
        None => tracing::error!(
            event = %err.event, emission = emission.0, subscription = sub.id.0,
            handler = sub.handler.name, error = %err,
            "ventus handler failed and no failure callback is set"
        ),
    }
    err
}

/// Whether `tracing` wants the emission and handler spans (`ventus.emission`,
/// `ventus.handler`, at `DEBUG`, with this module as their target); the lean paths are
/// only taken when it does not.
#[inline]
pub(crate) fn spans_enabled() -> bool {
    tracing::enabled!(tracing::Level::DEBUG)
}

/// Calls `step` on each handler of `direct` and `any`, merged in subscription order,
/// under one `catch_unwind` for the whole walk rather than one per handler (a closure
/// given to `catch_unwind` is called through a pointer and never inlined). A panic can
/// only come from the handler last started (or from reporting its failure): it goes to
/// `panicked` with that handler, and the walk goes on at the next one.
#[inline]
pub(crate) fn walk_caught<'e, S>(
    direct: Option<&'e Arc<EventEntry>>,
    any: Option<&'e Arc<EventEntry>>,
    state: &mut S,
    mut step: impl FnMut(&mut S, &'e Arc<Subscriber>),
    mut panicked: impl FnMut(&mut S, &'e Arc<Subscriber>, Box<dyn Any + Send>),
) {
    match (direct, any) {
        // One event's subscribers: walked by index, the panicking one is the last taken.
        (Some(entry), None) | (None, Some(entry)) => {
            let subs = &entry.subscribers[..];
            let mut next = 0;
            while let Err(panic) = catch_unwind(AssertUnwindSafe(|| {
                while let Some(sub) = subs.get(next) {
                    next += 1;
                    step(state, sub);
                }
            })) {
                panicked(state, &subs[next - 1], panic);
            }
        }
        (direct, any) => {
            let mut handlers = Merge {
                a: direct.map_or(&[], |e| &e.subscribers[..]),
                b: any.map_or(&[], |e| &e.subscribers[..]),
            };
            let mut running = None;
            while let Err(panic) = catch_unwind(AssertUnwindSafe(|| {
                for sub in handlers.by_ref() {
                    running = Some(sub);
                    step(state, sub);
                }
            })) {
                if let Some(sub) = running {
                    panicked(state, sub, panic);
                }
            }
        }
    }
}

/// The handlers of an event and of "any event", merged in subscription order; a
/// subscriber linked to both comes once.
struct Merge<'e> {
    a: &'e [Slot],
    b: &'e [Slot],
}

impl<'e> Iterator for Merge<'e> {
    type Item = &'e Arc<Subscriber>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let take_a = match (self.a.first(), self.b.first()) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => {
                if a.id == b.id {
                    self.b = &self.b[1..];
                }
                a.id <= b.id
            }
        };
        let slice = if take_a { &mut self.a } else { &mut self.b };
        let (first, rest) = slice.split_first()?;
        *slice = rest;
        Some(&**first)
    }
}

impl fmt::Debug for Emission<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emission")
            .field("id", &self.id)
            .field("event", &self.event.as_str())
            .field("time", &self.time.get())
            .field("payload_type", &self.payload_type)
            .field("handlers", &self.handler_count())
            .finish()
    }
}
