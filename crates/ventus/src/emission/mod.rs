//! One emission: the event, its payload and the handlers it resolved.

pub(crate) mod awaited;
mod calls;
mod cancel;
pub(crate) mod claims;
pub(crate) mod drain;
pub(crate) mod filter;
mod first_pass;
mod handle;
pub(crate) mod hook;
pub(crate) mod inline;
mod metrics;
pub(crate) mod order;
mod record;
mod report;
mod run;
pub(crate) mod scope;
pub(crate) mod settings;

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

pub(crate) use self::calls::spans_enabled;
pub(crate) use self::cancel::Cancel;
pub use self::filter::{EmissionFilter, EmissionView, Verdict};
pub(crate) use self::handle::{is_worker_of, set_worker_of, Tracker, TrackerGuard};
pub use self::handle::{Canceller, Emitted};
pub use self::hook::{HandlerHook, HandlerInfo};
pub use self::metrics::EmitterMetrics;
pub(crate) use self::metrics::Metrics;
pub use self::report::{Counts, EmissionReport, HandlerReport, Outcome, ShutdownReport};

use self::drain::{Drain, DrainGuard};
use self::settings::EmitterShared;
use crate::event::{EmissionId, NameRef};
use crate::handler::SharedPayload;
use crate::linker::registry::EventEntry;
use crate::linker::LinkerInner;

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

    fn get_arc(&self) -> &Arc<T> {
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

/// One emission, handed by the [`EventEmitter`](crate::EventEmitter) to a
/// [`Processor`](crate::Processor), which decides where it runs.
///
/// It holds the event's name, a process-unique id, the time it was made, the payload and
/// the handlers resolved when it was emitted (those linked to the event, to the patterns
/// that match it and to "any event", each once, by priority, then subscription order). Once-subscriptions among them were claimed
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
    /// Its turn, while an ordered emitter's processor has it; the next emission starts
    /// when it drops. Last, so it drops after everything else the emission holds.
    pub(crate) turn: Option<order::Turn>,
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
    pub fn into_owned(self) -> Emission<'static> {
        self.owned(true)
    }

    /// [`into_owned`](Self::into_owned); the clock is read now only with `keep_time`.
    /// Without it, [`time`](Self::time) reads it when first asked: for an emission
    /// whose handlers cannot ask (none takes `AnyEvent` or is `blocking`, the ones that
    /// need the payload shared) and whose processor does not.
    fn owned(mut self, keep_time: bool) -> Emission<'static> {
        if keep_time {
            self.time();
        }
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
            turn: self.turn,
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
            // `emit` returned an error for it: no handler counts as cancelled. An ordered
            // emission was accepted by `emit` earlier: its handlers count cancelled.
            if !guard.ordered {
                guard.handlers = 0;
            }
            guard.ticket.take()
        });
        drop(ticket);
        drop(self);
    }

    fn track_with(
        mut self,
        parent: Option<Arc<Cancel>>,
        external: Option<CancellationToken>,
        drain: Option<(DrainGuard, u64)>,
    ) -> (Emission<'static>, Emitted) {
        if let Some(guard) = &mut self.tracker {
            // Tracked already (an ordered emission, whose handle `emit` made): the
            // processor's signals and count join the guard, which keeps its tracker.
            // Replacing it would drop the old guard, reporting the emission cancelled.
            if let Some((ticket, pool)) = drain {
                guard.ticket = Some(ticket);
                guard.tracker.set_pool(pool);
            }
            guard.parent = parent.or(guard.parent.take());
            guard.external = external.or(guard.external.take());
            let emitted = Emitted::tracked(self.id, guard.tracker.clone());
            return (self.owned(true), emitted);
        }
        // A processor of this crate (with `drain`) never asks for the time itself.
        let keep_time = drain.is_none() || self.needs_shared;
        let (ticket, pool) = drain.map_or((None, 0), |(ticket, pool)| (Some(ticket), pool));
        // Tracked to run elsewhere: it runs in the span it was made in (as the parent of
        // its `ventus.emission` span, or as its span when ventus's spans are off).
        let made_in = Some(tracing::Span::current()).filter(|span| !span.is_none());
        let tracker = Tracker::new(pool, made_in);
        let mut emission = self.owned(keep_time);
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
            ordered: false,
        });
        let emitted = Emitted::tracked(emission.id, tracker);
        (emission, emitted)
    }

    /// Takes the span current where the emission was tracked, if it was tracked in one:
    /// it runs in it wherever it runs. Taken once, by the run path that starts it.
    pub(crate) fn take_made_in(&self) -> Option<tracing::Span> {
        self.tracker.as_ref()?.tracker.take_made_in()
    }

    /// Makes the emission owned and tracked for its place in an ordered emitter's
    /// queue: its handle is made now, at `emit`, whenever it runs.
    pub(crate) fn track_ordered(self) -> (Emission<'static>, Emitted) {
        let (mut emission, emitted) = self.track_with(None, None, None);
        if let Some(guard) = &mut emission.tracker {
            guard.ordered = true;
        }
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

    /// Runs every handler and completes when all have finished (or the emission was
    /// cancelled); a tracked emission's handle then receives the report.
    ///
    /// Handlers start by priority, then subscription order. A sync handler runs to its end when it is
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
