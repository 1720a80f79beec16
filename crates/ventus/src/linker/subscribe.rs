//! Subscribing: the builder, the subscription handle and its drop guard.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::registry::{key_of, NewSubscriber, Subscriber};
use super::{EventLinker, SubscribeError};
use crate::event::{EventTarget, EventType, SubscriptionId};
use crate::handler::marker::{Accepts, Ready, Untyped};
use crate::handler::{
    FailureCallback, Handler, HandlerError, LinkerDefault, OnSuccess, SuccessStep, WithSuccess,
};

/// Options of a subscription being made; started by [`EventLinker::on`] and its
/// siblings, finished by [`subscribe`](Self::subscribe).
///
/// This is Pyventus's subscription context: `on_event` is the handler given to
/// `subscribe`, `on_success` and `on_failure` are the steps of the same names, and
/// `force_async` is [`blocking`](Self::blocking).
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use ventus::{EventLinker, TokioEventEmitter};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let total = Arc::new(AtomicU64::new(0));
/// let sum = total.clone();
/// let linker = EventLinker::builder().build()?;
/// linker
///     .on("Add")
///     .on_success(move |value: &u64| {
///         sum.fetch_add(*value, Ordering::Relaxed);
///     })
///     .on_failure(|err: &ventus::HandlerError| tracing::error!(%err))
///     .subscribe(|&(a, b): &(u64, u64)| a + b)?;
///
/// TokioEventEmitter::with_linker(&linker).emit_with("Add", (2_u64, 3_u64))?;
/// assert_eq!(total.load(Ordering::Relaxed), 5);
/// # Ok(())
/// # }
/// ```
#[must_use = "nothing is linked until `subscribe` is called"]
pub struct SubscribeBuilder<S = LinkerDefault, K = Untyped> {
    linker: EventLinker,
    targets: Vec<EventTarget>,
    name: Option<&'static str>,
    once: bool,
    blocking: bool,
    timeout: Option<Duration>,
    priority: i32,
    on_success: S,
    on_failure: Option<Arc<FailureCallback>>,
    /// The typed event of `on_event`, which claims the name for its type.
    event_type: Option<EventType>,
    payload: PhantomData<fn(K)>,
}

impl<K> SubscribeBuilder<LinkerDefault, K> {
    pub(crate) fn new(linker: EventLinker, targets: Vec<EventTarget>) -> Self {
        Self {
            payload: PhantomData,
            linker,
            targets,
            name: None,
            once: false,
            blocking: false,
            timeout: None,
            priority: 0,
            on_success: LinkerDefault::new(),
            on_failure: None,
            event_type: None,
        }
    }

    /// A subscription to the typed event `event_type`, named by `target`.
    pub(crate) fn typed(linker: EventLinker, target: EventTarget, event_type: EventType) -> Self {
        Self {
            event_type: Some(event_type),
            ..Self::new(linker, vec![target])
        }
    }
}

impl<S, K> SubscribeBuilder<S, K> {
    /// Runs the handler for the first emission only, then removes it.
    ///
    /// It runs at most once, and exactly once if its event is emitted, however many
    /// threads emit at once; it is removed when an emission claims it, even if it then
    /// fails. An emission its processor refuses (`emit` returns an error) gives the claim
    /// back unless it started the handler: the subscription stays linked for the next
    /// emission. An emission made at the same moment that found it claimed by the refused
    /// one skips it.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// let first = linker.on("Tick").once().subscribe(|| ())?;
    /// let emitter = TokioEventEmitter::with_linker(&linker);
    ///
    /// let report = emitter.emit("Tick")?.wait().expect("no runtime on this thread");
    /// assert_eq!(report.counts().succeeded, 1);
    /// let report = emitter.emit("Tick")?.wait().expect("no runtime on this thread");
    /// assert_eq!(report.counts().total(), 0, "claimed by the first emission");
    /// assert!(!first.is_linked());
    /// # Ok(())
    /// # }
    /// ```
    pub fn once(mut self) -> Self {
        self.once = true;
        self
    }

    /// Names the handler in its [`HandlerError`]s, in
    /// [`HandlerReport`](crate::HandlerReport)s, in its `ventus.handler` span and in the
    /// logs, instead of its type name (for a closure, only its place in the code).
    ///
    /// An empty name is refused by [`subscribe`](Self::subscribe) with
    /// [`SubscribeError::EmptyHandlerName`].
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let sub = linker.on("OrderPlaced").name("send-receipt").subscribe(|| ())?;
    /// assert_eq!(sub.handler_name(), "send-receipt");
    /// # Ok(())
    /// # }
    /// ```
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = Some(name);
        self
    }

    /// Runs a sync handler on tokio's blocking thread pool (Pyventus's `force_async`),
    /// so a slow handler does not hold up the others. Its success and failure callbacks
    /// run there too, on the handler's thread, after it returns. No effect on async
    /// handlers.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Resize").blocking().subscribe(|px: &u32| px / 2)?;
    ///
    /// let emitted = TokioEventEmitter::with_linker(&linker).emit_with("Resize", 640_u32)?;
    /// let report = emitted.wait().expect("no runtime on this thread");
    /// assert_eq!(report.counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn blocking(mut self) -> Self {
        self.blocking = true;
        self
    }

    /// Gives the handler at most `timeout` per emission (instead of the emitter's
    /// default). An async handler still running then is cancelled; a sync handler cannot
    /// be interrupted and is reported when it returns. Either way it takes the failure
    /// path with [`HandlerErrorKind::TimedOut`](crate::HandlerErrorKind::TimedOut).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ventus::{EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker
    ///     .on("Fetch")
    ///     .timeout(Duration::from_millis(10))
    ///     .subscribe(|| std::future::pending::<()>())?;
    ///
    /// let emitted = TokioEventEmitter::with_linker(&linker).emit("Fetch")?;
    /// let report = emitted.wait().expect("no runtime on this thread");
    /// assert_eq!(report.counts().timed_out, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Where the handler starts among an emission's handlers: those of higher priority
    /// start first, and handlers of equal priority start in subscription order. The
    /// default is `0`; negative priorities start after it.
    ///
    /// The order holds across everything an emission reaches: the event's own
    /// subscribers, those of the patterns that match it and those of "any event" are
    /// started as one list, by priority, then subscription order. A sync handler runs to
    /// its end before the next one starts; async handlers are started (polled once) and
    /// `blocking` ones handed to the blocking pool in this order, and then run alongside
    /// the others, so priority orders their starts, not their ends. The order is worked out when subscribing; emitting costs the same whatever
    /// the priorities.
    ///
    /// Subscribing with a priority above the lowest of the event's subscribers copies the
    /// event's subscriber list (O(n)); subscribing at or below it appends, as without
    /// priorities.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ventus::{EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let order = Arc::new(Mutex::new(Vec::new()));
    /// let linker = EventLinker::builder().build()?;
    /// for (name, priority) in [("audit", -10), ("log", 0), ("validate", 100), ("metrics", 0)] {
    ///     let order = order.clone();
    ///     linker
    ///         .on("OrderPlaced")
    ///         .priority(priority)
    ///         .subscribe(move || order.lock().unwrap().push(name))?;
    /// }
    ///
    /// TokioEventEmitter::with_linker(&linker).emit("OrderPlaced")?;
    /// assert_eq!(*order.lock().unwrap(), ["validate", "log", "metrics", "audit"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Receives the handler's value when it succeeds. The value's type must be the
    /// handler's: `T` for a handler returning `T` or `Result<T, E>`, `()` for none.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ventus::{EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// let linker = EventLinker::builder().build()?;
    /// linker
    ///     .on("Double")
    ///     .on_success(move |n: &u32| sink.lock().unwrap().push(*n))
    ///     .subscribe(|n: &u32| n * 2)?;
    ///
    /// TokioEventEmitter::with_linker(&linker).emit_with("Double", 21_u32)?;
    /// assert_eq!(*seen.lock().unwrap(), [42]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_success<T, F: OnSuccess<T>>(
        self,
        callback: F,
    ) -> SubscribeBuilder<WithSuccess<F>, K> {
        SubscribeBuilder {
            payload: PhantomData,
            linker: self.linker,
            targets: self.targets,
            name: self.name,
            once: self.once,
            blocking: self.blocking,
            timeout: self.timeout,
            priority: self.priority,
            on_success: WithSuccess(callback),
            on_failure: self.on_failure,
            event_type: self.event_type,
        }
    }

    /// Receives the error when the handler fails, panics or cannot take the payload.
    /// Without it, the linker's default failure callback runs; either way the failure
    /// is logged with `tracing`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ventus::{EventLinker, HandlerError, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let failed_on = Arc::new(Mutex::new(Vec::new()));
    /// let sink = failed_on.clone();
    /// let linker = EventLinker::builder().build()?;
    /// linker
    ///     .on("Parse")
    ///     .on_failure(move |err: &HandlerError| sink.lock().unwrap().push(err.event().to_string()))
    ///     .subscribe(|text: &String| text.parse::<u32>())?;
    ///
    /// TokioEventEmitter::with_linker(&linker).emit_with("Parse", "x".to_string())?;
    /// assert_eq!(*failed_on.lock().unwrap(), ["Parse"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_failure(mut self, callback: impl Fn(&HandlerError) + Send + Sync + 'static) -> Self {
        self.on_failure = Some(Arc::new(callback));
        self
    }

    /// Links `handler` to the events and returns its subscription.
    ///
    /// # Errors
    ///
    /// - [`SubscribeError::EmptyEventName`] if an event name is empty;
    /// - [`SubscribeError::NoEvents`] if no event was given;
    /// - [`SubscribeError::TooManySubscribers`] if an event already has the linker's
    ///   `max_subscribers`;
    /// - [`SubscribeError::NameCollision`] if this is a typed event's subscription and
    ///   its name belongs to another typed event (see [`Event`](crate::Event));
    /// - [`SubscribeError::EmptyHandlerName`] if [`name`](Self::name) was given `""`;
    /// - [`SubscribeError::AsyncHandlerBorrowsPayload`] if an async handler takes its
    ///   payload by reference (`async fn f(order: &Order)`), which no emission can give it.
    ///
    /// On error nothing is linked.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, SubscribeError};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().max_subscribers(1).build()?;
    /// let sub = linker.on(["A", "B"]).subscribe(|| ())?;
    /// assert_eq!(linker.event_count_of(&sub), 2);
    ///
    /// let refused = linker.on("A").subscribe(|| ());
    /// assert!(matches!(refused, Err(SubscribeError::TooManySubscribers { max: 1, .. })));
    /// assert_eq!(linker.on("").subscribe(|| ()), Err(SubscribeError::EmptyEventName));
    /// assert_eq!(linker.subscriber_count(), 1, "nothing is linked on error");
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscribe<H, M>(self, handler: H) -> Result<Subscription, SubscribeError>
    where
        H: Handler<M>,
        M: Ready,
        S: SuccessStep<H::Value>,
        K: Accepts<M>,
    {
        if self.name == Some("") {
            return Err(SubscribeError::EmptyHandlerName);
        }
        if let Some(payload) = H::borrowed_payload() {
            return Err(SubscribeError::AsyncHandlerBorrowsPayload {
                handler: self.name.unwrap_or(std::any::type_name::<H>()),
                payload,
            });
        }
        let mut keys: Vec<Arc<str>> = Vec::with_capacity(self.targets.len());
        for target in &self.targets {
            let key = key_of(target).ok_or(SubscribeError::EmptyEventName)?;
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        if keys.is_empty() {
            return Err(SubscribeError::NoEvents);
        }
        let inner = &self.linker.inner;
        let subscriber = inner.registry.link(
            keys,
            inner.max_subscribers,
            NewSubscriber {
                once: self.once,
                blocking: self.blocking,
                timeout: self.timeout,
                handler: handler
                    .into_erased(self.on_success, M::take())
                    .named(self.name),
                on_failure: self.on_failure,
                event_type: self.event_type,
                priority: self.priority,
            },
        )?;
        if inner.debug {
            tracing::debug!(
                linker = inner.name.as_deref().unwrap_or(""),
                subscription = subscriber.id.0,
                handler = subscriber.handler.name,
                events = ?self.targets,
                once = self.once,
                "ventus subscribe"
            );
        }
        Ok(Subscription::new(self.linker, subscriber))
    }
}

impl<S, K> fmt::Debug for SubscribeBuilder<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscribeBuilder")
            .field("targets", &self.targets)
            .field("name", &self.name)
            .field("once", &self.once)
            .field("blocking", &self.blocking)
            .field("priority", &self.priority)
            .finish_non_exhaustive()
    }
}

/// A linked handler: Pyventus's `EventSubscriber`.
///
/// Cloning gives another handle to the same subscription. Dropping it leaves the handler
/// linked; call [`unsubscribe`](Self::unsubscribe), or turn it into a
/// [`SubscriptionGuard`] that unsubscribes on drop.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// let sub = linker.on("Tick").subscribe(|| ())?;
/// assert!(sub.is_linked());
/// assert!(sub.unsubscribe());
/// assert!(!sub.unsubscribe(), "only the first call unsubscribes");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Subscription {
    pub(crate) linker: EventLinker,
    subscriber: Arc<Subscriber>,
}

impl Subscription {
    pub(crate) fn new(linker: EventLinker, subscriber: Arc<Subscriber>) -> Self {
        Self { linker, subscriber }
    }

    /// The subscription's id.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let sub = linker.on("Tick").subscribe(|| ())?;
    /// assert_eq!(sub.clone().id(), sub.id(), "clones are handles to one subscription");
    /// # Ok(())
    /// # }
    /// ```
    pub fn id(&self) -> SubscriptionId {
        self.subscriber.id
    }

    /// The handler's name: the one given to [`SubscribeBuilder::name`], or its type name.
    ///
    /// # Examples
    ///
    /// ```
    /// fn on_tick() {}
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let sub = linker.on("Tick").subscribe(on_tick)?;
    /// assert!(sub.handler_name().ends_with("on_tick"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn handler_name(&self) -> &'static str {
        self.subscriber.handler.name
    }

    /// The priority it was subscribed with (see [`SubscribeBuilder::priority`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// assert_eq!(linker.on("Tick").priority(5).subscribe(|| ())?.priority(), 5);
    /// assert_eq!(linker.on("Tick").subscribe(|| ())?.priority(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn priority(&self) -> i32 {
        self.subscriber.priority
    }

    /// Whether this is a once-subscription.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// assert!(linker.on("Tick").once().subscribe(|| ())?.is_once());
    /// assert!(!linker.on("Tick").subscribe(|| ())?.is_once());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_once(&self) -> bool {
        self.subscriber.once
    }

    /// Whether the handler can still run: not unsubscribed, removed or (once) claimed.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let sub = linker.on("Tick").subscribe(|| ())?;
    /// assert!(sub.is_linked());
    /// linker.remove_all();
    /// assert!(!sub.is_linked());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_linked(&self) -> bool {
        self.subscriber.state.is_active()
    }

    /// Unlinks the handler from all its events. `true` the first time, `false` after, or
    /// if an emission already claimed this once-subscription, or it was removed.
    ///
    /// An emission in progress skips the handler if it has not started yet.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let sub = linker.on(["A", "B"]).subscribe(|| ())?;
    /// assert!(sub.unsubscribe());
    /// assert!(!sub.unsubscribe(), "only the first call unsubscribes");
    /// assert!(!linker.contains_event("A") && !linker.contains_event("B"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn unsubscribe(&self) -> bool {
        let inner = &self.linker.inner;
        // The state word decides who ends the subscriber; the registry follows.
        let ended = self.subscriber.state.end();
        if ended {
            inner.registry.detach(self.subscriber.id);
            // A `next` future waiting on this subscription learns it is gone.
            inner.waiters.removed(self.subscriber.id);
        }
        if inner.debug {
            tracing::debug!(
                linker = inner.name.as_deref().unwrap_or(""),
                subscription = self.subscriber.id.0,
                unsubscribed = ended,
                "ventus unsubscribe"
            );
        }
        ended
    }

    /// A guard that unsubscribes when dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// {
    ///     let _guard = linker.on("Tick").subscribe(|| ())?.guard();
    ///     assert!(linker.contains_event("Tick"));
    /// }
    /// assert!(!linker.contains_event("Tick"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn guard(self) -> SubscriptionGuard {
        SubscriptionGuard {
            subscription: Some(self),
        }
    }
}

impl PartialEq for Subscription {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.subscriber, &other.subscriber)
    }
}

impl Eq for Subscription {}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.subscriber.id)
            .field("handler", &self.subscriber.handler.name)
            .field("once", &self.subscriber.once)
            .field("priority", &self.subscriber.priority)
            .field("linked", &self.is_linked())
            .finish()
    }
}

/// Unsubscribes its [`Subscription`] when dropped; made by [`Subscription::guard`].
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// let guard = linker.on("Tick").subscribe(|| ())?.guard();
/// assert_eq!(linker.subscriber_count(), 1);
/// drop(guard);
/// assert_eq!(linker.subscriber_count(), 0);
/// # Ok(())
/// # }
/// ```
#[must_use = "dropping the guard unsubscribes at once"]
pub struct SubscriptionGuard {
    subscription: Option<Subscription>,
}

impl SubscriptionGuard {
    /// The guarded subscription.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let guard = linker.on("Tick").subscribe(|| ())?.guard();
    /// assert!(guard.subscription().is_linked());
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscription(&self) -> &Subscription {
        // Always `Some` until `disarm` or drop takes it.
        self.subscription
            .as_ref()
            .unwrap_or_else(|| unreachable!("guard used after disarm"))
    }

    /// Gives the subscription back without unsubscribing.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let guard = linker.on("Tick").subscribe(|| ())?.guard();
    /// let sub = guard.disarm(); // the guard is gone, the handler stays linked
    /// assert!(sub.is_linked());
    /// # Ok(())
    /// # }
    /// ```
    pub fn disarm(mut self) -> Subscription {
        self.subscription
            .take()
            .unwrap_or_else(|| unreachable!("guard disarmed twice"))
    }
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        if let Some(subscription) = self.subscription.take() {
            subscription.unsubscribe();
        }
    }
}

impl fmt::Debug for SubscriptionGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SubscriptionGuard")
            .field(&self.subscription)
            .finish()
    }
}
