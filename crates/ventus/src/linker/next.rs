//! Awaiting the next emission of an event: [`EventLinker::next`] and its typed forms.
//!
//! A waiter is an ordinary (not once) subscription, made when `next` is called, whose
//! sync handler offers the payload to a slot shared with the [`Next`] future. The first
//! offer that finds the slot waiting claims it, ends the subscription, then fills it and
//! wakes the future; later offers (emissions racing on other threads) find it claimed and
//! drop their copy. Everything that ends a waiter goes through the slot's state under its
//! lock, and whoever takes the subscription out of the slot unsubscribes it: the handler
//! when it claims, the future when it is dropped or times out. So exactly one of them
//! unsubscribes, and no path leaves the subscription linked. User code (the predicate,
//! `Clone`, `Drop` of a payload, wakers) never runs under the slot's lock.
//!
//! A plain subscription rather than a once-subscription: a once-claim is taken before the
//! handler looks at the payload, so a payload of another type, or one the predicate
//! refuses, would use the waiter up without resolving it.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::subscribe::{SubscribeBuilder, Subscription};
use super::waiters::{end, Waiter};
use super::{EventLinker, NextError, SubscribeError};
use crate::event::Event;
use crate::handler::marker::{Accepts, SyncArg};
use crate::handler::{drop_caught, AnyEvent, HandlerError, LinkerDefault};

/// The name the waiters' handlers have in reports, spans and logs.
const WAITER_NAME: &str = "ventus::next";

impl EventLinker {
    /// A future of the next emission of `event`, as [`AnyEvent`] (name, emission id, time
    /// and payload, whatever its type).
    ///
    /// The waiter subscribes now, when `next` is called, not when the future is first
    /// polled: an emission made between this call and the `.await` is the one it
    /// resolves to. It is an ordinary subscriber while it waits (it counts towards
    /// `max_subscribers` and in [`subscriber_count_of`](Self::subscriber_count_of), and
    /// its emissions report a handler named `ventus::next`), and it is unsubscribed as
    /// soon as it resolves, times out or is dropped. See [`Next`] for timeouts, sync code
    /// and cancel safety.
    ///
    /// A handler taking [`AnyEvent`] needs the payload shared, which keeps the event's
    /// emissions off the emitter's lean paths while the waiter is linked; when the
    /// payload type is known, [`next_with`](Self::next_with) costs less.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, TokioEventEmitter};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let linker = EventLinker::builder().build()?;
    ///     let ping = linker.next("Ping");
    ///     let emitted = TokioEventEmitter::with_linker(&linker).emit_with("Ping", 7_u32)?;
    ///
    ///     let event = ping.await?;
    ///     assert_eq!((event.name().as_str(), event.payload::<u32>()), ("Ping", Some(&7)));
    ///     assert_eq!(event.id(), emitted.id());
    ///     assert_eq!(linker.subscriber_count_of("Ping"), 0, "unsubscribed when it resolved");
    ///     Ok(())
    /// }
    /// ```
    pub fn next(&self, event: &str) -> Next<AnyEvent> {
        Next::subscribe(self.on(event), |event: &AnyEvent| Some(event.clone()))
    }

    /// A future of the payload of the next emission of `event` whose payload is a `T`.
    ///
    /// The waiter's handler takes `&T` and clones it, once, for the emission that
    /// resolves it; `T` is shared with the event's other handlers until then, as it is
    /// for any `|p: &T|` handler. An emission of another payload type does not resolve
    /// it: if no other handler takes that type, `emit` refuses it with
    /// [`EmitError::PayloadType`](crate::EmitError::PayloadType); otherwise the waiter's
    /// handler fails with [`HandlerErrorKind::PayloadType`](crate::HandlerErrorKind),
    /// logged, and goes on waiting. `T = ()` waits for an emission without a payload.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, TokioEventEmitter};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let linker = EventLinker::builder().build()?;
    ///     let emitter = TokioEventEmitter::with_linker(&linker);
    ///     let paid = linker.next_with::<u64>("OrderPaid");
    ///     tokio::spawn(async move { emitter.emit_with("OrderPaid", 42_u64) });
    ///
    ///     assert_eq!(paid.await?, 42);
    ///     Ok(())
    /// }
    /// ```
    pub fn next_with<T>(&self, event: &str) -> Next<T>
    where
        T: Clone + Send + Sync + 'static,
    {
        Next::subscribe(self.on(event), |payload: &T| Some(payload.clone()))
    }

    /// A future of the next emission of `event` whose payload is a `T` for which
    /// `predicate` returns `true`; emissions it refuses leave the waiter waiting.
    ///
    /// The predicate runs in the emission that offers the payload, on its thread, like a
    /// sync handler; several emissions may call it at once. If it panics, that emission's
    /// waiter handler fails (logged) and the waiter goes on waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, TokioEventEmitter};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let linker = EventLinker::builder().build()?;
    ///     let emitter = TokioEventEmitter::with_linker(&linker);
    ///     let hot = linker.next_where("Reading", |celsius: &f64| *celsius > 30.0);
    ///     for reading in [21.5, 24.0, 31.2, 35.0] {
    ///         emitter.run_with("Reading", reading).await?;
    ///     }
    ///     assert_eq!(hot.await?, 31.2);
    ///     Ok(())
    /// }
    /// ```
    pub fn next_where<T, F>(&self, event: &str, predicate: F) -> Next<T>
    where
        T: Clone + Send + Sync + 'static,
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        Next::subscribe(self.on(event), move |payload: &T| {
            predicate(payload).then(|| payload.clone())
        })
    }

    /// A future of the next emission of the typed event `E`, as emitted by
    /// [`emit_event`](crate::EventEmitter::emit_event).
    ///
    /// Subscribes as [`on_event`](Self::on_event) does, so a name that belongs to another
    /// typed event resolves the future with
    /// [`NextError::Subscribe`]`(`[`SubscribeError::NameCollision`]`)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{Event, EventLinker, TokioEventEmitter};
    ///
    /// #[derive(Debug, Clone, PartialEq)]
    /// struct Shutdown {
    ///     reason: String,
    /// }
    /// impl Event for Shutdown {}
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let linker = EventLinker::builder().build()?;
    ///     let shutdown = linker.next_event::<Shutdown>();
    ///     let emitter = TokioEventEmitter::with_linker(&linker);
    ///     emitter.emit_event(Shutdown { reason: "deploy".into() })?;
    ///
    ///     assert_eq!(shutdown.await?.reason, "deploy");
    ///     Ok(())
    /// }
    /// ```
    pub fn next_event<E: Event + Clone>(&self) -> Next<E> {
        Next::subscribe(self.on_event::<E>(), |event: &E| Some(event.clone()))
    }

    /// A future of the next emission of any event of this linker, as [`AnyEvent`].
    ///
    /// Subscribes as [`on_any`](Self::on_any) does.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, TokioEventEmitter};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let linker = EventLinker::builder().build()?;
    ///     linker.on("Pong").subscribe(|| ())?;
    ///     let first = linker.next_any();
    ///     TokioEventEmitter::with_linker(&linker).emit("Pong")?;
    ///
    ///     assert_eq!(first.await?.name().as_str(), "Pong");
    ///     Ok(())
    /// }
    /// ```
    pub fn next_any(&self) -> Next<AnyEvent> {
        Next::subscribe(self.on_any(), |event: &AnyEvent| Some(event.clone()))
    }
}

/// A future of the next emission of an event; made by [`EventLinker::next`],
/// [`next_with`](EventLinker::next_with), [`next_where`](EventLinker::next_where),
/// [`next_event`](EventLinker::next_event) and [`next_any`](EventLinker::next_any).
///
/// It resolves to the payload (or [`AnyEvent`]) of the first emission that reaches its
/// waiter, or to a [`NextError`]. Its subscription is made when it is created and is gone
/// by the time it resolves, whatever the outcome; emissions racing on several threads
/// resolve it once, with the first of them to reach it.
///
/// # Timeout
///
/// [`timeout`](Self::timeout) bounds the wait and resolves with
/// [`NextError::TimedOut`], one error type for every outcome. Awaited, the timer is
/// tokio's, so the future must then be polled inside a tokio runtime with its timer
/// enabled (as `tokio::time::sleep` must); [`wait`](Self::wait) needs no runtime.
/// `tokio::time::timeout(d, linker.next(..))` works as well: its `Elapsed` drops this
/// future, which unsubscribes.
///
/// # Sync code
///
/// [`wait`](Self::wait) blocks the calling thread until an emission from another thread
/// (or the timeout) resolves it. On the thread of a current-thread runtime it returns
/// [`NextError::WouldBlock`] at once; on a multi-thread runtime's worker it blocks in
/// `block_in_place`.
///
/// # Cancel safety
///
/// Dropping the future, before or after it was polled, unsubscribes its waiter at once:
/// [`subscriber_count_of`](EventLinker::subscriber_count_of) no longer counts it when
/// `drop` returns, and no later emission runs it. So it can be a branch of
/// `tokio::select!` in a loop, recreated at each turn, without leaving a subscriber
/// behind. A payload that an emission handed over just before the drop is dropped with
/// it (that emission has then resolved a waiter nobody awaits): to miss no emission
/// across turns, keep one `Next` alive over the loop rather than recreating it, or
/// subscribe a handler.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ventus::{EventLinker, NextError};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let linker = EventLinker::builder().build()?;
///     let never = linker.next_with::<u64>("Never").timeout(Duration::from_millis(5));
///     assert_eq!(linker.subscriber_count_of("Never"), 1, "subscribed when made");
///     assert_eq!(never.await, Err(NextError::TimedOut(Duration::from_millis(5))));
///     assert_eq!(linker.subscriber_count_of("Never"), 0, "and gone after the timeout");
///
///     drop(linker.next("Dropped"));
///     assert_eq!(linker.subscriber_count_of("Dropped"), 0, "and after a drop");
///     Ok(())
/// }
/// ```
#[must_use = "a `Next` does nothing unless awaited or waited on; dropping it unsubscribes"]
pub struct Next<T> {
    /// `None` once resolved, or if subscribing failed.
    slot: Option<Arc<Slot<T>>>,
    /// Why subscribing failed, until the first poll reports it.
    failed: Option<SubscribeError>,
    /// The timeout and its deadline.
    timeout: Option<(Duration, Instant)>,
    /// The timer, made at the first poll after `timeout`.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T: Send + 'static> Next<T> {
    /// Subscribes a waiter that offers `take(payload)`, when it is `Some`, to a new slot.
    fn subscribe<K, P>(
        builder: SubscribeBuilder<LinkerDefault, K>,
        take: impl Fn(&P) -> Option<T> + Send + Sync + 'static,
    ) -> Self
    where
        K: Accepts<SyncArg<P>>,
        P: Any + Send + Sync,
    {
        let slot = Arc::new(Slot {
            state: Mutex::new(State {
                phase: Phase::Waiting,
                waker: None,
                subscription: None,
            }),
        });
        let offered = Arc::downgrade(&slot);
        let subscribed = builder
            .name(WAITER_NAME)
            // Its own steps: the linker's default callbacks are for the user's handlers.
            .on_success(|_: &()| ())
            .on_failure(|_: &HandlerError| ())
            .subscribe(move |payload: &P| {
                if let Some(slot) = offered.upgrade() {
                    if let Some(value) = take(payload) {
                        slot.offer(value);
                    }
                }
            });
        match subscribed {
            Ok(subscription) => {
                slot.linked(subscription);
                Self {
                    slot: Some(slot),
                    failed: None,
                    timeout: None,
                    sleep: None,
                }
            }
            Err(err) => Self {
                slot: None,
                failed: Some(err),
                timeout: None,
                sleep: None,
            },
        }
    }

    /// Gives up after `limit`, counted from this call, with [`NextError::TimedOut`]; the
    /// waiter is then unsubscribed. A payload handed over by then still wins.
    ///
    /// Awaited, the timer is tokio's: poll the future inside a tokio runtime with its
    /// timer enabled. [`wait`](Self::wait) times out without one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ventus::{EventLinker, NextError};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let linker = EventLinker::builder().build()?;
    ///     let late = linker.next("Late").timeout(Duration::from_millis(5)).await;
    ///     assert!(matches!(late, Err(NextError::TimedOut(_))));
    ///     assert!(linker.is_empty());
    ///     Ok(())
    /// }
    /// ```
    pub fn timeout(mut self, limit: Duration) -> Self {
        let deadline = Instant::now().checked_add(limit);
        // A limit past what `Instant` can hold is no limit.
        self.timeout = deadline.map(|deadline| (limit, deadline));
        self.sleep = None;
        self
    }

    /// Blocks this thread until the future resolves: for sync code, with the emission
    /// coming from another thread.
    ///
    /// # Errors
    ///
    /// Those of the future, and [`NextError::WouldBlock`] on the thread of a
    /// current-thread tokio runtime (the waiter is then unsubscribed). On a multi-thread
    /// runtime's worker it blocks in `tokio::task::block_in_place`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// let ready = linker.next_with::<String>("Ready");
    /// let emitter = TokioEventEmitter::with_linker(&linker);
    /// let worker = std::thread::spawn(move || emitter.emit_with("Ready", "db".to_string()));
    ///
    /// assert_eq!(ready.wait()?, "db");
    /// worker.join().unwrap()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait(mut self) -> Result<T, NextError> {
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Err(_) => self.block(),
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                tokio::task::block_in_place(|| self.block())
            }
            Ok(_) => Err(NextError::WouldBlock),
        }
    }

    fn block(&mut self) -> Result<T, NextError> {
        if let Some(err) = self.failed.take() {
            return Err(NextError::Subscribe(err));
        }
        let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
        loop {
            let Some(slot) = &self.slot else {
                unreachable!("`Next` waited on after it resolved")
            };
            if let Poll::Ready(out) = slot.poll(&waker) {
                self.slot = None;
                return out;
            }
            match self.timeout {
                None => std::thread::park(),
                Some((limit, deadline)) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return self.time_out(limit);
                    }
                    std::thread::park_timeout(deadline - now);
                }
            }
        }
    }

    /// Ends the wait at its timeout: a payload handed over by then still wins.
    fn time_out(&mut self, limit: Duration) -> Result<T, NextError> {
        match self.slot.take().and_then(|slot| slot.close()) {
            Some(value) => Ok(value),
            None => Err(NextError::TimedOut(limit)),
        }
    }
}

impl<T: Send + 'static> Future for Next<T> {
    type Output = Result<T, NextError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(err) = this.failed.take() {
            return Poll::Ready(Err(NextError::Subscribe(err)));
        }
        let Some(slot) = &this.slot else {
            panic!("`Next` polled after it resolved");
        };
        if let Poll::Ready(out) = slot.poll(cx.waker()) {
            this.slot = None;
            return Poll::Ready(out);
        }
        if let Some((limit, deadline)) = this.timeout {
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(this.time_out(limit));
            }
        }
        Poll::Pending
    }
}

impl<T> Drop for Next<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            drop_caught("an unclaimed payload", slot.close());
        }
    }
}

impl<T> fmt::Debug for Next<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next")
            .field("waiting", &self.slot.is_some())
            .field("timeout", &self.timeout.map(|(limit, _)| limit))
            .finish_non_exhaustive()
    }
}

/// Wakes a thread blocked in [`Next::wait`].
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// What a waiter's handler and its future share.
struct Slot<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    phase: Phase<T>,
    waker: Option<Waker>,
    /// The waiter's subscription, until someone takes it out to unsubscribe it.
    subscription: Option<Subscription>,
}

enum Phase<T> {
    /// No emission has claimed the slot.
    Waiting,
    /// An emission claimed it and is unsubscribing before it fills it.
    Claimed,
    /// Filled; not yet taken by the future.
    Ready(T),
    /// Taken, timed out, dropped or removed: nothing more happens.
    Done,
}

impl<T> Slot<T> {
    /// Keeps the new `subscription` so that whoever ends the wait unsubscribes it, or
    /// unsubscribes it now if an emission already claimed the slot.
    fn linked(self: &Arc<Self>, subscription: Subscription)
    where
        T: Send + 'static,
    {
        let waiters = &subscription.linker.inner.waiters;
        let waiter: Weak<dyn Waiter> = Arc::downgrade(self) as Weak<dyn Waiter>;
        waiters.add(subscription.id(), waiter);
        let mut state = self.state.lock();
        if matches!(state.phase, Phase::Waiting) {
            state.subscription = Some(subscription);
            return;
        }
        // Claimed before `subscribe` returned: the emission found no subscription to end.
        drop(state);
        end(subscription);
    }

    /// An emission's payload: fills the slot if it is still waiting.
    fn offer(&self, value: T) {
        let mut state = self.state.lock();
        if !matches!(state.phase, Phase::Waiting) {
            drop(state);
            drop_caught("a payload nobody waits for", value);
            return;
        }
        state.phase = Phase::Claimed;
        let subscription = state.subscription.take();
        drop(state);
        // Unsubscribed before it is filled: a future that sees the payload sees no
        // subscriber left.
        if let Some(subscription) = subscription {
            end(subscription);
        }
        let mut state = self.state.lock();
        if matches!(state.phase, Phase::Claimed) {
            state.phase = Phase::Ready(value);
            let waker = state.waker.take();
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
        } else {
            // The future was dropped meanwhile.
            drop(state);
            drop_caught("a payload nobody waits for", value);
        }
    }

    /// The future's poll: the payload, a removal, or `Pending` with `waker` kept.
    fn poll(&self, waker: &Waker) -> Poll<Result<T, NextError>> {
        let mut state = self.state.lock();
        match std::mem::replace(&mut state.phase, Phase::Done) {
            Phase::Ready(value) => Poll::Ready(Ok(value)),
            Phase::Waiting if state.subscription.as_ref().is_some_and(|s| !s.is_linked()) => {
                let subscription = state.subscription.take();
                drop(state);
                if let Some(subscription) = subscription {
                    end(subscription);
                }
                Poll::Ready(Err(NextError::Removed))
            }
            phase @ (Phase::Waiting | Phase::Claimed) => {
                state.phase = phase;
                let stale = match &state.waker {
                    Some(kept) if kept.will_wake(waker) => None,
                    _ => state.waker.replace(waker.clone()),
                };
                drop(state);
                drop(stale);
                Poll::Pending
            }
            Phase::Done => unreachable!("a waiter's slot polled after it resolved"),
        }
    }

    /// Ends the wait (drop or timeout): unsubscribes, and gives back a payload already
    /// handed over.
    fn close(&self) -> Option<T> {
        let mut state = self.state.lock();
        let phase = std::mem::replace(&mut state.phase, Phase::Done);
        let subscription = state.subscription.take();
        let waker = state.waker.take();
        drop(state);
        if let Some(subscription) = subscription {
            end(subscription);
        }
        drop(waker);
        match phase {
            Phase::Ready(value) => Some(value),
            _ => None,
        }
    }
}

impl<T: Send> Waiter for Slot<T> {
    fn check_removed(&self) {
        let mut state = self.state.lock();
        let removed = matches!(state.phase, Phase::Waiting)
            && state.subscription.as_ref().is_some_and(|s| !s.is_linked());
        // The next poll sees the removal and resolves.
        let waker = if removed { state.waker.take() } else { None };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}
