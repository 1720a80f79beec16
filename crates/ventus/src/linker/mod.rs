//! The event linker: which handlers are linked to which events.

mod builder;
pub(crate) mod claim;
#[cfg(feature = "macros")]
pub(crate) mod declared;
mod entry;
mod error;
mod next;
mod pattern;
pub(crate) mod registry;
mod stream;
mod subscribe;
mod subscriber;
mod waiters;

use std::fmt;
use std::sync::{Arc, OnceLock};

pub use self::builder::EventLinkerBuilder;
pub use self::error::{BuildError, NextError, SubscribeError};
pub use self::next::Next;
pub use self::stream::{EventStream, Lagged, StreamOverflow};
pub use self::subscribe::{SubscribeBuilder, Subscription, SubscriptionGuard};

use self::registry::{key_of, target_of, Registry};
use self::waiters::Waiters;
use crate::event::Typed;
use crate::event::{Event, EventTarget, EventType, IntoEvents};
use crate::handler::{drop_caught, DefaultSuccess, FailureCallback, LinkerDefault};

/// Links events to handlers; a cheap `Clone` handle over shared state.
///
/// [`EventLinker::global`] is the default namespace that emitters use unless told
/// otherwise. [`EventLinker::builder`] makes separate namespaces with their own settings
/// (`max_subscribers`, default callbacks, debug logging); namespaces share nothing and
/// inherit nothing from each other, as subclasses of Pyventus's `EventLinker` do not.
///
/// The linker knows events and subscribers, nothing about how emissions run; that is
/// the [`EventEmitter`](crate::EventEmitter)'s business.
///
/// # Changes during an emission
///
/// An emission resolves its handlers when it is emitted. A handler subscribed while an
/// emission is in progress does not run in that emission, only in later ones. A handler
/// that is unsubscribed (or removed) before it has started is skipped; one that has
/// started runs to its end. Subscribing, unsubscribing and emitting from inside a
/// handler are all allowed: no lock is held while handlers run.
///
/// # Examples
///
/// ```
/// use ventus::{EventLinker, TokioEventEmitter};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().max_subscribers(8).build()?;
/// let greeting = linker.on("GreetEvent").subscribe(|| tracing::info!("hello"))?;
/// assert!(linker.contains_event("GreetEvent"));
///
/// TokioEventEmitter::with_linker(&linker).emit("GreetEvent")?;
///
/// assert!(greeting.unsubscribe());
/// assert!(linker.is_empty(), "an event with no subscribers is removed");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct EventLinker {
    pub(crate) inner: Arc<LinkerInner>,
}

/// The state one namespace shares between its handles.
pub(crate) struct LinkerInner {
    /// The namespace's name, for logs. Set once at build.
    pub(crate) name: Option<String>,
    /// At most this many subscribers per event. Set once at build.
    pub(crate) max_subscribers: Option<usize>,
    /// The success callback of subscriptions without their own. Set once at build.
    pub(crate) on_success: Option<Arc<DefaultSuccess>>,
    /// The failure callback of subscriptions without their own. Set once at build.
    pub(crate) on_failure: Option<Arc<FailureCallback>>,
    /// Log subscribe, unsubscribe and emit at debug level. Set once at build.
    pub(crate) debug: bool,
    /// Events and subscribers; see [`registry`] for its locking.
    pub(crate) registry: Registry,
    /// The futures of `next` still waiting, woken when their subscription is removed.
    pub(crate) waiters: Waiters,
}

impl Drop for LinkerInner {
    fn drop(&mut self) {
        // The last handle may go inside any ventus call (an emission's owned copy, a
        // subscription): the default callbacks, user values, are dropped caught.
        drop_caught("a default success callback", self.on_success.take());
        drop_caught("a default failure callback", self.on_failure.take());
    }
}

impl EventLinker {
    /// The default namespace, shared by the whole process.
    ///
    /// # Examples
    ///
    /// ```
    /// let global = ventus::EventLinker::global();
    /// assert!(global.same_as(ventus::EventLinker::global()));
    /// ```
    pub fn global() -> &'static EventLinker {
        static GLOBAL: OnceLock<EventLinker> = OnceLock::new();
        GLOBAL.get_or_init(|| {
            let linker = EventLinker::from_builder(EventLinker::builder().name("global"));
            // Handlers declared with `#[ventus::on]`/`#[ventus::once]`: linked here, once.
            // The registrations get `linker` and never call `global()` (reentrant init).
            #[cfg(feature = "macros")]
            self::declared::register_declared(&linker, None);
            linker
        })
    }

    /// A builder for a new, separate namespace.
    ///
    /// # Examples
    ///
    /// ```
    /// let payments = ventus::EventLinker::builder()
    ///     .name("payments")
    ///     .max_subscribers(4)
    ///     .debug(true)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(payments.name(), Some("payments"));
    /// assert_eq!(payments.max_subscribers(), Some(4));
    /// ```
    pub fn builder() -> EventLinkerBuilder {
        EventLinkerBuilder::default()
    }

    fn from_builder(builder: EventLinkerBuilder) -> Self {
        Self {
            inner: Arc::new(LinkerInner {
                name: builder.name,
                max_subscribers: builder.max_subscribers,
                on_success: builder.on_success,
                on_failure: builder.on_failure,
                debug: builder.debug,
                registry: Registry::new(),
                waiters: Waiters::default(),
            }),
        }
    }

    /// Starts a subscription to one or several events.
    ///
    /// Events are checked when the subscription is made: an empty name fails it, and
    /// duplicates count once.
    ///
    /// # Patterns
    ///
    /// A name with a `*` is a pattern over `.`-separated segments: a segment `*` matches
    /// any one segment of an emitted name, `**` one or more, and other segments match
    /// themselves (`"order.*"` matches `order.created`; `"order.**"` also matches
    /// `order.shipped.eu`, and neither matches `order`). `*` and `**` must be whole
    /// segments and no segment may be empty, or the subscription fails with
    /// [`SubscribeError::InvalidPattern`]. An emission runs the subscribers of its name,
    /// of the patterns that match it and of "any event", each once, by priority
    /// ([`SubscribeBuilder::priority`]) and then subscription order. Patterns are listed
    /// and removed like events.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use ventus::TokioEventEmitter;
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("order.*").subscribe(|| ())?;
    /// linker.on("order.created").subscribe(|| ())?;
    /// let emitter = TokioEventEmitter::with_linker(&linker);
    /// let report = emitter.emit("order.created")?.wait().expect("sync context");
    /// assert_eq!(report.counts().succeeded, 2);
    /// assert!(linker.contains_event("order.*"));
    /// assert!(linker.on("order*").subscribe(|| ()).is_err());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let sub = linker.on(["LowVoltage", "HighVoltage", "LowVoltage"]).subscribe(|v: &f64| ())?;
    /// assert_eq!(linker.event_count_of(&sub), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn on<E: IntoEvents>(&self, events: E) -> SubscribeBuilder<LinkerDefault, E::Payload> {
        SubscribeBuilder::new(self.clone(), events.into_events())
    }

    /// Starts a subscription to the typed event `E`; handlers take `&E` (or `E` when async).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// #[derive(Clone)]
    /// struct Shutdown;
    /// impl ventus::Event for Shutdown {}
    ///
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on_event::<Shutdown>().subscribe(|_: &Shutdown| ())?;
    /// assert!(linker.contains_event("Shutdown"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_event<E: Event>(&self) -> SubscribeBuilder<LinkerDefault, Typed<E>> {
        SubscribeBuilder::typed(
            self.clone(),
            EventTarget::event::<E>(),
            EventType::of::<E>(),
        )
    }

    /// Starts a subscription to the error type `E`, as emitted by
    /// [`EventEmitter::emit_error`](crate::EventEmitter::emit_error).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker
    ///     .on_error::<std::num::ParseIntError>()
    ///     .subscribe(|err: &std::num::ParseIntError| tracing::warn!(%err))?;
    /// assert!(linker.contains(ventus::EventTarget::error::<std::num::ParseIntError>()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_error<E: std::error::Error + Send + Sync + 'static>(
        &self,
    ) -> SubscribeBuilder<LinkerDefault, Typed<E>> {
        SubscribeBuilder::new(self.clone(), vec![EventTarget::error::<E>()])
    }

    /// Starts a subscription to every event this linker's emitters emit.
    ///
    /// Such handlers usually take [`AnyEvent`](crate::AnyEvent). A handler linked both to
    /// "any event" and to an event runs once per emission of that event.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on_any().subscribe(|e: &ventus::AnyEvent| tracing::info!(event = %e.name()))?;
    /// assert!(linker.contains(ventus::EventTarget::Any));
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_any(&self) -> SubscribeBuilder {
        self.on(EventTarget::Any)
    }

    /// The namespace's name, if it was given one.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().name("payments").build()?;
    /// assert_eq!(linker.name(), Some("payments"));
    /// assert_eq!(ventus::EventLinker::builder().build()?.name(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// The most subscribers one event may have; `None` for no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().max_subscribers(8).build()?;
    /// assert_eq!(linker.max_subscribers(), Some(8));
    /// assert_eq!(ventus::EventLinker::builder().build()?.max_subscribers(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_subscribers(&self) -> Option<usize> {
        self.inner.max_subscribers
    }

    /// Whether debug logging is on for this namespace.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// assert!(ventus::EventLinker::builder().debug(true).build()?.is_debug());
    /// assert!(!ventus::EventLinker::builder().build()?.is_debug());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_debug(&self) -> bool {
        self.inner.debug
    }

    /// Whether `self` and `other` are handles to the same namespace.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// assert!(linker.same_as(&linker.clone()), "a clone is another handle to it");
    /// assert!(!linker.same_as(&ventus::EventLinker::builder().build()?));
    /// # Ok(())
    /// # }
    /// ```
    pub fn same_as(&self, other: &EventLinker) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether no event has a subscriber.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(ventus::EventLinker::builder().build().unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.registry.settle_retired();
        self.inner.registry.events.is_empty()
    }

    /// Every event with at least one subscriber, sorted, [`EventTarget::Any`] last.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use ventus::EventTarget;
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on(["B", "A"]).subscribe(|| ())?;
    /// assert_eq!(linker.events(), [EventTarget::named("A"), EventTarget::named("B")]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn events(&self) -> Vec<EventTarget> {
        let mut targets: Vec<_> = self
            .inner
            .registry
            .view(|v| v.keys())
            .iter()
            .map(target_of)
            .collect();
        targets.sort();
        targets
    }

    /// Every subscription, in subscription order.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let first = linker.on("A").subscribe(|| ())?;
    /// let second = linker.on("B").subscribe(|| ())?;
    /// assert_eq!(linker.subscribers(), [first, second]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscribers(&self) -> Vec<Subscription> {
        self.inner
            .registry
            .view(|v| v.all_subscribers())
            .into_iter()
            .map(|s| Subscription::new(self.clone(), s))
            .collect()
    }

    /// How many events have at least one subscriber.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on(["A", "B"]).subscribe(|| ())?;
    /// linker.on("A").subscribe(|| ())?;
    /// assert_eq!(linker.event_count(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn event_count(&self) -> usize {
        self.inner.registry.view(|v| v.event_count())
    }

    /// How many subscriptions are linked.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on(["A", "B"]).subscribe(|| ())?;
    /// linker.on("A").subscribe(|| ())?;
    /// assert_eq!(linker.subscriber_count(), 2, "a subscription counts once");
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscriber_count(&self) -> usize {
        self.inner.registry.view(|v| v.subscriber_count())
    }

    /// How many subscribers `event` has.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("A").subscribe(|| ())?;
    /// linker.on(["A", "B"]).subscribe(|| ())?;
    /// assert_eq!(linker.subscriber_count_of("A"), 2);
    /// assert_eq!(linker.subscriber_count_of("C"), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscriber_count_of(&self, event: impl Into<EventTarget>) -> usize {
        let Some(key) = key_of(&event.into()) else {
            return 0;
        };
        self.inner.registry.view(|v| v.subscriber_count_of(&key))
    }

    /// How many events `subscription` is linked to; 0 for a subscription of another
    /// linker (ids are only unique within one linker).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let sub = linker.on(["A", "B", "A"]).subscribe(|| ())?;
    /// assert_eq!(linker.event_count_of(&sub), 2, "a repeated event links once");
    /// # Ok(())
    /// # }
    /// ```
    pub fn event_count_of(&self, subscription: &Subscription) -> usize {
        if !subscription.linker.same_as(self) {
            return 0;
        }
        self.inner
            .registry
            .view(|v| v.keys_of(subscription.id()).len())
    }

    /// Whether `event` has at least one subscriber.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let sub = linker.on("Tick").subscribe(|| ())?;
    /// assert!(linker.contains_event("Tick"));
    /// sub.unsubscribe();
    /// assert!(!linker.contains_event("Tick"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn contains_event(&self, event: &str) -> bool {
        self.contains(EventTarget::named(event))
    }

    /// Whether `target` (a named event or [`EventTarget::Any`]) has at least one subscriber.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventKey, EventLinker, EventTarget};
    ///
    /// const TICK: EventKey<u64> = EventKey::new("Tick");
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on(TICK).subscribe(|n: &u64| *n)?;
    /// assert!(linker.contains(TICK));
    /// assert!(linker.contains("Tick"));
    /// assert!(!linker.contains(EventTarget::Any));
    /// # Ok(())
    /// # }
    /// ```
    pub fn contains(&self, target: impl Into<EventTarget>) -> bool {
        let Some(key) = key_of(&target.into()) else {
            return false;
        };
        self.inner.registry.settle_retired();
        if !registry::map_usable() {
            return registry::elsewhere(|| self.contains(target_of(&key)));
        }
        let guard = self.inner.registry.events.guard();
        self.inner.registry.events.contains_key(&key, &guard)
    }

    /// Whether `subscription` is linked in this namespace.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let other = ventus::EventLinker::builder().build()?;
    /// let sub = linker.on("Tick").subscribe(|| ())?;
    /// assert!(linker.contains_subscriber(&sub));
    /// assert!(!other.contains_subscriber(&sub), "namespaces share nothing");
    /// # Ok(())
    /// # }
    /// ```
    pub fn contains_subscriber(&self, subscription: &Subscription) -> bool {
        subscription.linker.same_as(self)
            && self
                .inner
                .registry
                .view(|v| v.contains_subscriber(subscription.id()))
    }

    /// Whether `event` and `subscription` are linked.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let sub = linker.on("A").subscribe(|| ())?;
    /// assert!(linker.are_linked("A", &sub));
    /// assert!(!linker.are_linked("B", &sub));
    /// # Ok(())
    /// # }
    /// ```
    pub fn are_linked(&self, event: impl Into<EventTarget>, subscription: &Subscription) -> bool {
        let Some(key) = key_of(&event.into()) else {
            return false;
        };
        subscription.linker.same_as(self)
            && self
                .inner
                .registry
                .view(|v| v.keys_of(subscription.id()).contains(&key))
    }

    /// The events `subscription` is linked to, in the order they were given.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::EventTarget;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let sub = linker.on(["B", "A"]).subscribe(|| ())?;
    /// assert_eq!(linker.events_of(&sub), [EventTarget::named("B"), EventTarget::named("A")]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn events_of(&self, subscription: &Subscription) -> Vec<EventTarget> {
        if !subscription.linker.same_as(self) {
            return Vec::new();
        }
        self.inner
            .registry
            .view(|v| v.keys_of(subscription.id()).iter().map(target_of).collect())
    }

    /// The subscriptions linked to any of `events`, each once, in subscription order.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let a = linker.on("A").subscribe(|| ())?;
    /// let ab = linker.on(["A", "B"]).subscribe(|| ())?;
    /// assert_eq!(linker.subscribers_of(["A", "B"]), [a, ab]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscribers_of(&self, events: impl IntoEvents) -> Vec<Subscription> {
        let keys: Vec<_> = events.into_events().iter().filter_map(key_of).collect();
        let mut found = self.inner.registry.view(|v| {
            keys.iter()
                .flat_map(|k| v.subscribers_of(k).cloned())
                .collect::<Vec<_>>()
        });
        found.sort_by_key(|s| s.id);
        found.dedup_by_key(|s| s.id);
        found
            .into_iter()
            .map(|s| Subscription::new(self.clone(), s))
            .collect()
    }

    /// Unlinks `subscription` from `event`; it stays linked to its other events, and is
    /// removed when this was its last. `true` if they were linked.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let sub = linker.on(["A", "B"]).subscribe(|| ())?;
    /// assert!(linker.remove("A", &sub));
    /// assert!(!linker.remove("A", &sub));
    /// assert!(linker.contains_subscriber(&sub));
    /// assert!(linker.remove("B", &sub));
    /// assert!(!linker.contains_subscriber(&sub));
    /// # Ok(())
    /// # }
    /// ```
    pub fn remove(&self, event: impl Into<EventTarget>, subscription: &Subscription) -> bool {
        let Some(key) = key_of(&event.into()) else {
            return false;
        };
        let removed = subscription.linker.same_as(self)
            && self.inner.registry.unlink(&key, subscription.id());
        if removed {
            self.inner.waiters.sweep();
        }
        self.trace_removal("remove", removed);
        removed
    }

    /// Removes `event` and all its links; subscribers left with no event are removed.
    /// `true` if the event had subscribers.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let only_a = linker.on("A").subscribe(|| ())?;
    /// let both = linker.on(["A", "B"]).subscribe(|| ())?;
    /// assert!(linker.remove_event("A"));
    /// assert!(!linker.remove_event("A"));
    /// assert!(!only_a.is_linked(), "left with no event, so removed");
    /// assert!(linker.are_linked("B", &both));
    /// # Ok(())
    /// # }
    /// ```
    pub fn remove_event(&self, event: impl Into<EventTarget>) -> bool {
        let Some(key) = key_of(&event.into()) else {
            return false;
        };
        let removed = self.inner.registry.remove_event(&key);
        if removed {
            self.inner.waiters.sweep();
        }
        self.trace_removal("remove_event", removed);
        removed
    }

    /// Removes `subscription` from every event; `true` if it was linked.
    /// The same as [`Subscription::unsubscribe`].
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let sub = linker.on(["A", "B"]).subscribe(|| ())?;
    /// assert!(linker.remove_subscriber(&sub));
    /// assert!(!linker.remove_subscriber(&sub));
    /// assert!(linker.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn remove_subscriber(&self, subscription: &Subscription) -> bool {
        subscription.linker.same_as(self) && subscription.unsubscribe()
    }

    /// Removes every event and subscriber.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let sub = linker.on("A").subscribe(|| ())?;
    /// linker.on_any().subscribe(|| ())?;
    /// linker.remove_all();
    /// assert!(linker.is_empty() && !sub.is_linked());
    /// # Ok(())
    /// # }
    /// ```
    pub fn remove_all(&self) {
        self.inner.registry.clear();
        self.inner.waiters.sweep();
        self.trace_removal("remove_all", true);
    }

    fn trace_removal(&self, op: &'static str, removed: bool) {
        if self.inner.debug {
            tracing::debug!(
                linker = self.name().unwrap_or(""),
                op,
                removed,
                "ventus registry change"
            );
        }
    }
}

impl fmt::Debug for EventLinker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLinker")
            .field("name", &self.inner.name)
            .field("max_subscribers", &self.inner.max_subscribers)
            .field("debug", &self.inner.debug)
            .finish_non_exhaustive()
    }
}
