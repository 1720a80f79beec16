//! The event emitter: resolves handlers and hands emissions to a processor.

mod emission;
mod error;

use std::any::type_name;
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

pub use self::emission::{Emission, EmissionId};
pub use self::error::EmitError;

use self::emission::{PayloadSlot, Shared};
use crate::event::{error_name, Event, EventKey, EventName};
use crate::linker::registry::ANY_KEY;
use crate::linker::EventLinker;
use crate::processor::{Processor, TokioProcessor};

/// The emitter that behaves as Pyventus's `AsyncIOEventEmitter`.
///
/// - **Sync context** (no tokio runtime on this thread): `emit` runs the emission to
///   completion and returns after every handler, sync and async, has finished. Handlers
///   of one emission run concurrently on a runtime the emitter keeps for this purpose
///   (an emission whose handlers are all sync runs without one). Emissions that handlers
///   schedule meanwhile are waited for too; tasks a handler spawns itself with
///   `tokio::spawn` and leaves running are cancelled when the emission ends, as
///   `asyncio.run` cancels what is left on its loop.
/// - **Async context** (inside a runtime, in async code or in sync code running on one of
///   its threads, `spawn_blocking` included): the emission is scheduled on that runtime
///   and `emit` returns at once. [`wait_for_tasks`](EventEmitter::wait_for_tasks) waits
///   for every emission in flight. If the runtime shuts down first, the handlers that
///   have not finished are cancelled, as asyncio cancels tasks when its loop closes.
///
/// `emit` never blocks a runtime thread and never panics because of where it is called.
///
/// # Examples
///
/// The seed's first example, in a sync context:
///
/// ```
/// use ventus::{EventLinker, TokioEventEmitter};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("StringEvent").subscribe(|| println!("Sync event callback!"))?;
/// linker.on("StringEvent").subscribe(|| async { println!("Async event callback!") })?;
///
/// let emitter = TokioEventEmitter::with_linker(&linker);
/// emitter.emit("StringEvent")?; // returns after both callbacks ran
/// # Ok(())
/// # }
/// ```
///
/// And its second, in an async context:
///
/// ```
/// # use ventus::{EventLinker, TokioEventEmitter};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let linker = EventLinker::builder().build()?;
/// # linker.on("StringEvent").subscribe(|| println!("Sync event callback!"))?;
/// let emitter = TokioEventEmitter::with_linker(&linker);
/// emitter.emit("StringEvent")?; // scheduled; returns at once
/// emitter.wait_for_tasks().await; // instead of the seed's `asyncio.sleep(0.5)`
/// # Ok(())
/// # }
/// ```
#[doc(alias = "AsyncIOEventEmitter")]
pub type TokioEventEmitter = EventEmitter<TokioProcessor>;

/// Emits events: resolves the handlers linked to an event and hands the
/// [`Emission`] to its processor `P`, which decides where the handlers run.
///
/// `EventEmitter<TokioProcessor>` ([`TokioEventEmitter`]) is the seed's emitter.
/// `EventEmitter` with no parameter holds any processor behind `dyn Processor`, so
/// emitters with different processors can be swapped at runtime; convert with `into()`.
/// Emitters are cheap `Clone` handles.
///
/// # Examples
///
/// ```
/// use ventus::{EventEmitter, EventLinker, TokioEventEmitter};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// let emitter: EventEmitter = TokioEventEmitter::with_linker(&linker).into();
/// emitter.emit("Anything")?;
/// # Ok(())
/// # }
/// ```
pub struct EventEmitter<P: ?Sized = dyn Processor> {
    linker: EventLinker,
    debug: bool,
    processor: Arc<P>,
}

impl TokioEventEmitter {
    /// A tokio emitter on the [global linker](EventLinker::global).
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter = ventus::TokioEventEmitter::new();
    /// assert!(emitter.linker().same_as(ventus::EventLinker::global()));
    /// ```
    pub fn new() -> Self {
        Self::with_linker(EventLinker::global())
    }

    /// A tokio emitter on `linker`.
    ///
    /// # Examples
    ///
    /// ```
    /// let linker = ventus::EventLinker::builder().build().unwrap();
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    /// assert!(emitter.linker().same_as(&linker));
    /// ```
    pub fn with_linker(linker: &EventLinker) -> Self {
        EventEmitter::builder().linker(linker).build()
    }
}

impl Default for TokioEventEmitter {
    fn default() -> Self {
        Self::new()
    }
}

impl EventEmitter<TokioProcessor> {
    /// A builder for an emitter with a chosen linker, processor and debug switch.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker, TokioProcessor};
    ///
    /// let linker = EventLinker::builder().build().unwrap();
    /// let emitter = EventEmitter::builder()
    ///     .linker(&linker)
    ///     .processor(TokioProcessor::new())
    ///     .debug(true)
    ///     .build();
    /// assert!(emitter.is_debug());
    /// ```
    pub fn builder() -> EventEmitterBuilder<TokioProcessor> {
        EventEmitterBuilder {
            linker: None,
            debug: None,
            processor: TokioProcessor::new(),
        }
    }
}

impl<P: Processor + ?Sized> EventEmitter<P> {
    /// The linker whose handlers this emitter runs.
    pub fn linker(&self) -> &EventLinker {
        &self.linker
    }

    /// The processor that runs this emitter's emissions.
    pub fn processor(&self) -> &P {
        &self.processor
    }

    /// Whether emissions are logged at debug level.
    pub fn is_debug(&self) -> bool {
        self.debug
    }

    /// Emits `event` without a payload.
    ///
    /// # Errors
    ///
    /// [`EmitError::EmptyEventName`] for an empty name; [`EmitError::Processor`] if the
    /// processor could not take the emission.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("StringEvent").subscribe(|| ())?;
    /// ventus::TokioEventEmitter::with_linker(&linker).emit("StringEvent")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit(&self, event: &str) -> Result<(), EmitError> {
        self.dispatch::<()>(event, None, None)
    }

    /// Emits `event` with `payload`; handlers take it as `&P` (sync) or `P` (async).
    ///
    /// # Errors
    ///
    /// As [`emit`](Self::emit).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("LowVoltage").subscribe(|volts: &f64| assert_eq!(*volts, 0.4))?;
    /// ventus::TokioEventEmitter::with_linker(&linker).emit_with("LowVoltage", 0.4)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit_with<T: Send + Sync + 'static>(
        &self,
        event: &str,
        payload: T,
    ) -> Result<(), EmitError> {
        self.dispatch(event, None, Some(payload))
    }

    /// Emits the typed event `event`, named by [`Event::name`]; it is the payload.
    ///
    /// # Errors
    ///
    /// As [`emit`](Self::emit).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// struct Paid(u32);
    /// impl ventus::Event for Paid {}
    ///
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on_event::<Paid>().subscribe(|p: &Paid| assert_eq!(p.0, 10))?;
    /// ventus::TokioEventEmitter::with_linker(&linker).emit_event(Paid(10))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit_event<E: Event>(&self, event: E) -> Result<(), EmitError> {
        let name = E::name();
        self.dispatch(name, Some(name), Some(event))
    }

    /// Emits an error as an event named after its type's full path (many error types are
    /// called `Error`); handlers subscribed with
    /// [`EventLinker::on_error`] take `&E`.
    ///
    /// # Errors
    ///
    /// As [`emit`](Self::emit).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker
    ///     .on_error::<std::num::ParseIntError>()
    ///     .subscribe(|e: &std::num::ParseIntError| assert!(e.to_string().contains("invalid")))?;
    /// let err = "x".parse::<i32>().unwrap_err();
    /// ventus::TokioEventEmitter::with_linker(&linker).emit_error(err)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit_error<E: std::error::Error + Send + Sync + 'static>(
        &self,
        error: E,
    ) -> Result<(), EmitError> {
        let name = error_name::<E>();
        self.dispatch(name, Some(name), Some(error))
    }

    /// Emits the event of `key` with a payload whose type the key fixes.
    ///
    /// # Errors
    ///
    /// As [`emit`](Self::emit).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// const TEMPERATURE: ventus::EventKey<f32> = ventus::EventKey::new("Temperature");
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on(TEMPERATURE).subscribe(|c: &f32| assert!(*c > 0.0))?;
    /// ventus::TokioEventEmitter::with_linker(&linker).emit_key(TEMPERATURE, 21.5)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit_key<T: Send + Sync + 'static>(
        &self,
        key: EventKey<T>,
        payload: T,
    ) -> Result<(), EmitError> {
        self.dispatch(key.name(), Some(key.name()), Some(payload))
    }

    /// Waits until every emission this emitter's processor has in flight has finished.
    ///
    /// For a [`TokioEventEmitter`], that is every emission scheduled in an async context,
    /// including those emitted while waiting.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future stops the wait and nothing else.
    pub fn wait_for_tasks(&self) -> impl Future<Output = ()> + Send + '_ {
        self.processor.wait_for_tasks()
    }

    fn dispatch<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<T>,
    ) -> Result<(), EmitError> {
        if event.is_empty() {
            return Err(EmitError::EmptyEventName);
        }
        let linker = &self.linker.inner;
        let registry = &linker.registry;
        let guard = registry.events.guard();
        let direct = registry.events.get(event, &guard);
        let any = if registry.has_any() {
            registry.events.get(ANY_KEY, &guard)
        } else {
            None
        };
        if direct.is_none() && any.is_none() {
            if self.debug {
                tracing::debug!(event, handlers = 0, "ventus emit: no handler is linked");
            }
            return Ok(());
        }
        let id = next_emission_id();
        let name = match (direct, static_name) {
            (Some(entry), _) => EventName::from_arc(entry.name.clone()),
            (None, Some(name)) => EventName::from_static(name),
            (None, None) => EventName::from_arc(Arc::from(event)),
        };

        // Once-subscribers are claimed now, so an emission owns them even if it runs later.
        let has_once = direct.is_some_and(|e| e.has_once) || any.is_some_and(|e| e.has_once);
        if has_once {
            self.claim_once(
                id,
                direct.map(|e| &e.subscribers[..]),
                any.map(|e| &e.subscribers[..]),
            );
        }

        let mut slot = payload;
        let payload_type = slot.is_some().then(type_name::<T>);
        let mut emission = Emission {
            id: EmissionId(id),
            time: SystemTime::now(),
            event: name,
            payload: if slot.is_some() {
                PayloadSlot::Borrowed(&mut slot)
            } else {
                PayloadSlot::None
            },
            payload_type,
            direct: direct.map(Shared::Borrowed),
            any: any.map(Shared::Borrowed),
            linker: Shared::Borrowed(&self.linker.inner),
        };
        emission.prepare();
        if self.debug {
            tracing::debug!(
                event,
                emission = id,
                handlers = emission.handler_count(),
                context = if tokio::runtime::Handle::try_current().is_ok() {
                    "async"
                } else {
                    "sync"
                },
                linker = linker.name.as_deref().unwrap_or(""),
                "ventus emit"
            );
        }
        self.processor
            .process(emission)
            .map_err(EmitError::Processor)
    }

    fn claim_once(
        &self,
        id: u64,
        direct: Option<&[Arc<crate::linker::registry::Subscriber>]>,
        any: Option<&[Arc<crate::linker::registry::Subscriber>]>,
    ) {
        let registry = &self.linker.inner.registry;
        let all = direct.unwrap_or(&[]).iter().chain(any.unwrap_or(&[]));
        for sub in all {
            // A subscriber on both lists is claimed by the first `claim`; the second fails.
            if sub.once && sub.state.claim(id) {
                registry.detach(sub.id);
            }
        }
    }
}

/// Emission ids: unique in the process, handed to each thread in blocks so emitting
/// threads do not contend on one counter.
fn next_emission_id() -> u64 {
    const BLOCK: u64 = 1024;
    // Starts at 1: 0 and u64::MAX mean "active" and "gone" in a subscriber's state.
    static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    RANGE.with(|range| {
        let (mut next, mut end) = range.get();
        if next == end {
            // Relaxed: only uniqueness matters, and fetch_add gives it.
            next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
            end = next + BLOCK;
        }
        range.set((next + 1, end));
        next
    })
}

impl<P: ?Sized> Clone for EventEmitter<P> {
    fn clone(&self) -> Self {
        Self {
            linker: self.linker.clone(),
            debug: self.debug,
            processor: self.processor.clone(),
        }
    }
}

impl<P: Processor> From<EventEmitter<P>> for EventEmitter {
    fn from(emitter: EventEmitter<P>) -> Self {
        Self {
            linker: emitter.linker,
            debug: emitter.debug,
            processor: emitter.processor,
        }
    }
}

impl<P: ?Sized> fmt::Debug for EventEmitter<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventEmitter")
            .field("linker", &self.linker)
            .field("processor", &type_name::<P>())
            .field("debug", &self.debug)
            .finish()
    }
}

/// Settings of a new [`EventEmitter`]; made by [`EventEmitter::builder`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct EventEmitterBuilder<P> {
    linker: Option<EventLinker>,
    debug: Option<bool>,
    processor: P,
}

impl<P: Processor> EventEmitterBuilder<P> {
    /// The linker whose handlers the emitter runs; the global one if not set.
    pub fn linker(mut self, linker: &EventLinker) -> Self {
        self.linker = Some(linker.clone());
        self
    }

    /// Logs each emission at debug level; defaults to the linker's debug switch.
    pub fn debug(mut self, debug: bool) -> Self {
        self.debug = Some(debug);
        self
    }

    /// The processor that decides where emissions run.
    pub fn processor<Q: Processor>(self, processor: Q) -> EventEmitterBuilder<Q> {
        EventEmitterBuilder {
            linker: self.linker,
            debug: self.debug,
            processor,
        }
    }

    /// Makes the emitter.
    pub fn build(self) -> EventEmitter<P> {
        let linker = self.linker.unwrap_or_else(|| EventLinker::global().clone());
        EventEmitter {
            debug: self.debug.unwrap_or(linker.inner.debug),
            linker,
            processor: Arc::new(self.processor),
        }
    }
}

impl<P> fmt::Debug for EventEmitterBuilder<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventEmitterBuilder")
            .field("linker", &self.linker)
            .field("processor", &type_name::<P>())
            .field("debug", &self.debug)
            .finish()
    }
}
