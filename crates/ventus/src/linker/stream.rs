//! Streams of an event's emissions: [`EventLinker::stream`] and its typed forms.
//!
//! The many-items sibling of [`next`](super::next): a stream is an ordinary subscription,
//! made when the stream is, whose sync handler offers each payload to a bounded buffer
//! shared with the [`EventStream`]. The buffer's lock only moves values in and out and
//! counts; user code (`Clone` of a payload, its `Drop`, wakers) runs outside it. The
//! subscription lives in the buffer's state, and whoever takes it out unsubscribes it:
//! the stream when it is dropped, or when it sees its subscription removed and ends. So
//! it is unsubscribed exactly once, and a removal (registered with the linker's waiters)
//! wakes the stream so that it ends instead of pending forever.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

use futures_core::{FusedStream, Stream};
use parking_lot::Mutex;

use super::subscribe::{SubscribeBuilder, Subscription};
use super::waiters::{end, Waiter};
use super::{EventLinker, SubscribeError};
use crate::event::Event;
use crate::handler::marker::{Accepts, SyncArg};
use crate::handler::{drop_caught, AnyEvent, HandlerError, LinkerDefault};

/// The name the streams' handlers have in reports, spans and logs.
const STREAM_NAME: &str = "ventus::stream";

/// Buffers start this large at most, and grow up to their capacity as items arrive.
const INITIAL_BUFFER: usize = 64;

/// What an [`EventStream`] does with an item when its buffer is full; chosen when the
/// stream is made, and readable with [`EventStream::overflow`].
///
/// # Examples
///
/// ```
/// use ventus::{EventLinker, Lagged, StreamOverflow, TokioEventEmitter};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let linker = EventLinker::builder().build()?;
///     let emitter = TokioEventEmitter::with_linker(&linker);
///     let mut latest = linker.stream_with::<u32>("Tick", 2, StreamOverflow::DropOldest)?;
///     let mut first = linker.stream_with::<u32>("Tick", 2, StreamOverflow::RefuseNewest)?;
///     for tick in 1..=5_u32 {
///         emitter.run_with("Tick", tick).await?;
///     }
///
///     assert_eq!(latest.recv().await, Some(Err(Lagged(3))));
///     assert_eq!(latest.recv().await, Some(Ok(4)));
///     assert_eq!(first.recv().await, Some(Ok(1)));
///     assert_eq!(first.refused(), 3);
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamOverflow {
    /// Drop the oldest buffered item to make room for the new one; the stream then yields
    /// [`Lagged`]`(n)`, with the number dropped, before the items that follow the gap, and
    /// goes on (unlike `tokio::sync::broadcast`, a lag does not end it). The emission's
    /// handler succeeds.
    DropOldest,
    /// Keep the buffered items and refuse the new one: it is counted in
    /// [`EventStream::refused`], and the stream's handler fails for that emission (its
    /// report counts one failed handler, named `ventus::stream`).
    RefuseNewest,
}

/// A gap in an [`EventStream`] under [`StreamOverflow::DropOldest`]: this many items were
/// dropped, oldest first, before the item the stream yields next.
///
/// # Examples
///
/// ```
/// use ventus::{EventLinker, Lagged, StreamOverflow, TokioEventEmitter};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let linker = EventLinker::builder().build()?;
///     let mut ticks = linker.stream_with::<u8>("Tick", 1, StreamOverflow::DropOldest)?;
///     let emitter = TokioEventEmitter::with_linker(&linker);
///     emitter.run_with("Tick", 1_u8).await?;
///     emitter.run_with("Tick", 2_u8).await?;
///
///     let Some(Err(Lagged(missed))) = ticks.recv().await else { unreachable!() };
///     assert_eq!(missed, 1);
///     assert_eq!(Lagged(1).to_string(), "the stream lagged: 1 item dropped");
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lagged(pub u64);

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items = if self.0 == 1 { "item" } else { "items" };
        write!(f, "the stream lagged: {} {items} dropped", self.0)
    }
}

impl std::error::Error for Lagged {}

/// The failure of a stream's handler for an item refused under
/// [`StreamOverflow::RefuseNewest`].
#[derive(Debug)]
struct Refused(usize);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the stream is full ({} items): item refused", self.0)
    }
}

impl std::error::Error for Refused {}

impl EventLinker {
    /// A stream of the emissions of `event`, as [`AnyEvent`], buffering at most
    /// `capacity` of them, with `overflow` saying what happens beyond.
    ///
    /// The stream subscribes now, when `stream` is called: emissions made before it is
    /// first polled are buffered. It is an ordinary subscriber while it lives (it counts
    /// towards `max_subscribers` and in
    /// [`subscriber_count_of`](Self::subscriber_count_of), and emissions report a handler
    /// named `ventus::stream`), and it is unsubscribed when it is dropped. See
    /// [`EventStream`] for items, overflow and the end of a stream.
    ///
    /// Like [`next`](Self::next), a handler taking [`AnyEvent`] keeps the event's
    /// emissions off the emitter's lean paths while it is linked; when the payload type is
    /// known, [`stream_with`](Self::stream_with) costs less.
    ///
    /// # Errors
    ///
    /// Those of subscribing: [`SubscribeError::EmptyEventName`], [`SubscribeError::TooManySubscribers`] (`max_subscribers`)
    ///
    /// # Panics
    ///
    /// If `capacity` is 0 (as `tokio::sync::mpsc::channel(0)` does).
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, StreamOverflow, TokioEventEmitter};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let linker = EventLinker::builder().build()?;
    ///     let mut pings = linker.stream("Ping", 16, StreamOverflow::DropOldest)?;
    ///     let emitter = TokioEventEmitter::with_linker(&linker);
    ///     emitter.emit_with("Ping", 1_u32)?;
    ///     emitter.emit("Ping")?;
    ///
    ///     let first = pings.recv().await.unwrap()?;
    ///     assert_eq!(first.payload::<u32>(), Some(&1));
    ///     assert!(pings.recv().await.unwrap()?.payload::<u32>().is_none());
    ///     drop(pings);
    ///     assert_eq!(linker.subscriber_count_of("Ping"), 0, "unsubscribed when dropped");
    ///     Ok(())
    /// }
    /// ```
    pub fn stream(
        &self,
        event: &str,
        capacity: usize,
        overflow: StreamOverflow,
    ) -> Result<EventStream<AnyEvent>, SubscribeError> {
        EventStream::subscribe(self.on(event), capacity, overflow, |event: &AnyEvent| {
            event.clone()
        })
    }

    /// A stream of the payloads of the emissions of `event` whose payload is a `T`,
    /// buffering at most `capacity` of them.
    ///
    /// The stream's handler takes `&T` and clones it, once per emission, outside the
    /// buffer's lock. An emission of another payload type is not an item: as for
    /// [`next_with`](Self::next_with), `emit` refuses it when no other handler takes that
    /// type, or the stream's handler fails with
    /// [`HandlerErrorKind::PayloadType`](crate::HandlerErrorKind). `T = ()` streams
    /// emissions without a payload.
    ///
    /// # Errors
    ///
    /// Those of subscribing, as [`stream`](Self::stream).
    ///
    /// # Panics
    ///
    /// If `capacity` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, StreamOverflow, TokioEventEmitter};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let linker = EventLinker::builder().build()?;
    ///     let mut paid = linker.stream_with::<u64>("OrderPaid", 8, StreamOverflow::RefuseNewest)?;
    ///     let emitter = TokioEventEmitter::with_linker(&linker);
    ///     tokio::spawn(async move {
    ///         for amount in [10_u64, 20, 30] {
    ///             emitter.emit_with("OrderPaid", amount)?;
    ///         }
    ///         Ok::<_, ventus::EmitError>(())
    ///     });
    ///
    ///     let mut total = 0;
    ///     for _ in 0..3 {
    ///         total += paid.recv().await.unwrap()?;
    ///     }
    ///     assert_eq!(total, 60);
    ///     Ok(())
    /// }
    /// ```
    pub fn stream_with<T>(
        &self,
        event: &str,
        capacity: usize,
        overflow: StreamOverflow,
    ) -> Result<EventStream<T>, SubscribeError>
    where
        T: Clone + Send + Sync + 'static,
    {
        EventStream::subscribe(self.on(event), capacity, overflow, T::clone)
    }

    /// A stream of the emissions of the typed event `E`, as emitted by
    /// [`emit_event`](crate::EventEmitter::emit_event).
    ///
    /// Subscribes as [`on_event`](Self::on_event) does.
    ///
    /// # Errors
    ///
    /// Those of subscribing; [`SubscribeError::NameCollision`] if `E`'s name belongs to
    /// another typed event.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{Event, EventLinker, StreamOverflow, TokioEventEmitter};
    ///
    /// #[derive(Debug, Clone, PartialEq)]
    /// struct Moved {
    ///     x: i32,
    /// }
    /// impl Event for Moved {}
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let linker = EventLinker::builder().build()?;
    ///     let mut moves = linker.stream_event::<Moved>(4, StreamOverflow::DropOldest)?;
    ///     let emitter = TokioEventEmitter::with_linker(&linker);
    ///     emitter.emit_event(Moved { x: 1 })?;
    ///     emitter.emit_event(Moved { x: 2 })?;
    ///
    ///     assert_eq!(moves.recv().await, Some(Ok(Moved { x: 1 })));
    ///     assert_eq!(moves.recv().await, Some(Ok(Moved { x: 2 })));
    ///     Ok(())
    /// }
    /// ```
    pub fn stream_event<E: Event + Clone>(
        &self,
        capacity: usize,
        overflow: StreamOverflow,
    ) -> Result<EventStream<E>, SubscribeError> {
        EventStream::subscribe(self.on_event::<E>(), capacity, overflow, E::clone)
    }

    /// A stream of the emissions of every event of this linker, as [`AnyEvent`].
    ///
    /// Subscribes as [`on_any`](Self::on_any) does.
    ///
    /// # Errors
    ///
    /// Those of subscribing.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, StreamOverflow, TokioEventEmitter};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let linker = EventLinker::builder().build()?;
    ///     let mut audit = linker.stream_any(32, StreamOverflow::DropOldest)?;
    ///     let emitter = TokioEventEmitter::with_linker(&linker);
    ///     emitter.emit("Login")?;
    ///     emitter.emit("Logout")?;
    ///
    ///     assert_eq!(audit.recv().await.unwrap()?.name().as_str(), "Login");
    ///     assert_eq!(audit.recv().await.unwrap()?.name().as_str(), "Logout");
    ///     Ok(())
    /// }
    /// ```
    pub fn stream_any(
        &self,
        capacity: usize,
        overflow: StreamOverflow,
    ) -> Result<EventStream<AnyEvent>, SubscribeError> {
        EventStream::subscribe(self.on_any(), capacity, overflow, |event: &AnyEvent| {
            event.clone()
        })
    }
}

/// A bounded stream of an event's emissions; made by [`EventLinker::stream`],
/// [`stream_with`](EventLinker::stream_with), [`stream_event`](EventLinker::stream_event)
/// and [`stream_any`](EventLinker::stream_any).
///
/// It is a [`Stream`] of `Result<T, Lagged>`, and [`recv`](Self::recv) awaits the next
/// item without `StreamExt`. Items come in the order their emissions reached the stream's
/// handler: the order of emission for emissions from one thread or task, whatever order
/// the handlers happened to run in for emissions racing on several.
///
/// # Capacity and overflow
///
/// At most [`capacity`](Self::capacity) items wait in the buffer. When an emission finds
/// it full, [`overflow`](Self::overflow) decides:
///
/// - [`StreamOverflow::DropOldest`]: the oldest item is dropped; the stream then yields
///   `Err(`[`Lagged`]`(n))` with the number dropped since the last item it yielded, before
///   the items that followed, and goes on. [`dropped`](Self::dropped) counts them all.
/// - [`StreamOverflow::RefuseNewest`]: the new item is refused, counted in
///   [`refused`](Self::refused), and the stream's handler fails for that emission, so its
///   report shows one failed handler. The stream never yields `Err` under this policy.
///
/// # End
///
/// The stream ends (yields `None`, and keeps doing so) only when its subscription is
/// ended by someone else: `remove_all`, `remove_event`, `remove`, or `unsubscribe` of its
/// handle listed by `subscribers()`. The removal wakes a task awaiting the stream; items
/// buffered before it (and a pending lag) are yielded first. It never ends on its own:
/// dropping every emitter does not end it.
///
/// # Drop
///
/// Dropping the stream unsubscribes it at once:
/// [`subscriber_count_of`](EventLinker::subscriber_count_of) no longer counts it when
/// `drop` returns, and no later emission runs it; buffered items are dropped with it.
/// An emission that started the handler just before the drop drops its item.
///
/// # Examples
///
/// ```
/// use ventus::{EventLinker, StreamOverflow, TokioEventEmitter};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let linker = EventLinker::builder().build()?;
///     let mut ticks = linker.stream_with::<u32>("Tick", 4, StreamOverflow::RefuseNewest)?;
///     let emitter = TokioEventEmitter::with_linker(&linker);
///     // From a plain thread: the emission runs the stream's handler there.
///     let thread = std::thread::spawn(move || emitter.emit_with("Tick", 1_u32).map(drop));
///     assert_eq!(ticks.recv().await, Some(Ok(1)));
///     thread.join().unwrap()?;
///
///     linker.remove_all();
///     assert_eq!(ticks.recv().await, None, "removing the subscription ends it");
///     Ok(())
/// }
/// ```
#[must_use = "an `EventStream` buffers emissions until it is dropped"]
pub struct EventStream<T> {
    buffer: Arc<Buffer<T>>,
    /// Yielded `None`: the subscription is gone.
    ended: bool,
}

impl<T: Send + 'static> EventStream<T> {
    /// Subscribes a handler that offers `take(payload)` to a new buffer.
    fn subscribe<K, P>(
        builder: SubscribeBuilder<LinkerDefault, K>,
        capacity: usize,
        overflow: StreamOverflow,
        take: impl Fn(&P) -> T + Send + Sync + 'static,
    ) -> Result<Self, SubscribeError>
    where
        K: Accepts<SyncArg<P>>,
        P: Any + Send + Sync,
    {
        assert!(
            capacity > 0,
            "an event stream's capacity must be at least 1"
        );
        let buffer = Arc::new(Buffer {
            capacity,
            overflow,
            refused: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            state: Mutex::new(State {
                items: VecDeque::with_capacity(capacity.min(INITIAL_BUFFER)),
                lagged: 0,
                waker: None,
                subscription: None,
                closed: false,
            }),
        });
        let offered = Arc::downgrade(&buffer);
        let subscription = builder
            .name(STREAM_NAME)
            // Its own steps: the linker's default callbacks are for the user's handlers.
            .on_success(|_: &()| ())
            .on_failure(|_: &HandlerError| ())
            .subscribe(move |payload: &P| match offered.upgrade() {
                Some(buffer) => buffer.offer(take(payload)),
                None => Ok(()),
            })?;
        let waiter: Weak<dyn Waiter> = Arc::downgrade(&buffer) as Weak<dyn Waiter>;
        subscription
            .linker
            .inner
            .waiters
            .add(subscription.id(), waiter);
        buffer.state.lock().subscription = Some(subscription);
        Ok(Self {
            buffer,
            ended: false,
        })
    }

    /// The next item: `Some(Ok(item))`, `Some(Err(Lagged(n)))` after a gap, or `None`
    /// once the subscription is removed; the same as `StreamExt::next`.
    ///
    /// Cancel safe: dropping the future loses no item.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, StreamOverflow, TokioEventEmitter};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let linker = EventLinker::builder().build()?;
    ///     let mut names = linker.stream_with::<String>("Hello", 4, StreamOverflow::DropOldest)?;
    ///     TokioEventEmitter::with_linker(&linker).emit_with("Hello", "ada".to_string())?;
    ///     assert_eq!(names.recv().await, Some(Ok("ada".to_string())));
    ///     Ok(())
    /// }
    /// ```
    pub async fn recv(&mut self) -> Option<Result<T, Lagged>> {
        poll_fn(|cx| self.poll_item(cx)).await
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, Lagged>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let mut state = self.buffer.state.lock();
        if state.lagged > 0 {
            let missed = std::mem::take(&mut state.lagged);
            return Poll::Ready(Some(Err(Lagged(missed))));
        }
        if let Some(item) = state.items.pop_front() {
            return Poll::Ready(Some(Ok(item)));
        }
        if state.subscription.as_ref().is_none_or(|s| !s.is_linked()) {
            state.closed = true;
            let subscription = state.subscription.take();
            let waker = state.waker.take();
            drop(state);
            drop(waker);
            if let Some(subscription) = subscription {
                end(subscription);
            }
            self.ended = true;
            return Poll::Ready(None);
        }
        let stale = match &state.waker {
            Some(kept) if kept.will_wake(cx.waker()) => None,
            _ => state.waker.replace(cx.waker().clone()),
        };
        drop(state);
        drop(stale);
        Poll::Pending
    }
}

impl<T> EventStream<T> {
    /// The most items the buffer holds, chosen when the stream was made.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use ventus::{EventLinker, StreamOverflow};
    /// let linker = EventLinker::builder().build()?;
    /// let stream = linker.stream("E", 8, StreamOverflow::DropOldest)?;
    /// assert_eq!(stream.capacity(), 8);
    /// # Ok(())
    /// # }
    /// ```
    pub fn capacity(&self) -> usize {
        self.buffer.capacity
    }

    /// What happens to an item that finds the buffer full, chosen when the stream was made.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use ventus::{EventLinker, StreamOverflow};
    /// let linker = EventLinker::builder().build()?;
    /// let stream = linker.stream("E", 8, StreamOverflow::RefuseNewest)?;
    /// assert_eq!(stream.overflow(), StreamOverflow::RefuseNewest);
    /// # Ok(())
    /// # }
    /// ```
    pub fn overflow(&self) -> StreamOverflow {
        self.buffer.overflow
    }

    /// How many items were refused, over the stream's life, under
    /// [`StreamOverflow::RefuseNewest`]; always 0 under `DropOldest`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, StreamOverflow, TokioEventEmitter};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let linker = EventLinker::builder().build()?;
    ///     let stream = linker.stream_with::<u8>("E", 1, StreamOverflow::RefuseNewest)?;
    ///     let emitter = TokioEventEmitter::with_linker(&linker);
    ///     emitter.run_with("E", 1_u8).await?;
    ///     let refused = emitter.run_with("E", 2_u8).await?;
    ///     assert_eq!(refused.counts().failed, 1, "the refusal shows in the report");
    ///     assert_eq!(stream.refused(), 1);
    ///     Ok(())
    /// }
    /// ```
    pub fn refused(&self) -> u64 {
        self.buffer.refused.load(Ordering::Relaxed)
    }

    /// How many items were dropped, over the stream's life, under
    /// [`StreamOverflow::DropOldest`] (the sum of the [`Lagged`] counts yielded and still
    /// to yield); always 0 under `RefuseNewest`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, StreamOverflow, TokioEventEmitter};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let linker = EventLinker::builder().build()?;
    ///     let stream = linker.stream_with::<u8>("E", 1, StreamOverflow::DropOldest)?;
    ///     let emitter = TokioEventEmitter::with_linker(&linker);
    ///     for n in 0..3_u8 {
    ///         emitter.run_with("E", n).await?;
    ///     }
    ///     assert_eq!(stream.dropped(), 2);
    ///     Ok(())
    /// }
    /// ```
    pub fn dropped(&self) -> u64 {
        self.buffer.dropped.load(Ordering::Relaxed)
    }

    /// How many items wait in the buffer now.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventLinker, StreamOverflow, TokioEventEmitter};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let linker = EventLinker::builder().build()?;
    ///     let stream = linker.stream("E", 4, StreamOverflow::DropOldest)?;
    ///     assert!(stream.is_empty());
    ///     TokioEventEmitter::with_linker(&linker).run("E").await?;
    ///     assert_eq!(stream.len(), 1);
    ///     Ok(())
    /// }
    /// ```
    pub fn len(&self) -> usize {
        self.buffer.state.lock().items.len()
    }

    /// Whether no item waits in the buffer now.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use ventus::{EventLinker, StreamOverflow};
    /// let linker = EventLinker::builder().build()?;
    /// assert!(linker.stream("E", 4, StreamOverflow::DropOldest)?.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.buffer.state.lock().items.is_empty()
    }
}

impl<T: Send + 'static> Stream for EventStream<T> {
    type Item = Result<T, Lagged>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}

impl<T: Send + 'static> FusedStream for EventStream<T> {
    fn is_terminated(&self) -> bool {
        self.ended
    }
}

impl<T> Drop for EventStream<T> {
    fn drop(&mut self) {
        let mut state = self.buffer.state.lock();
        state.closed = true;
        let subscription = state.subscription.take();
        let items = std::mem::take(&mut state.items);
        let waker = state.waker.take();
        drop(state);
        if let Some(subscription) = subscription {
            end(subscription);
        }
        drop(waker);
        drop_caught("the items of a dropped stream", items);
    }
}

impl<T> fmt::Debug for EventStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("capacity", &self.buffer.capacity)
            .field("overflow", &self.buffer.overflow)
            .field("len", &self.len())
            .field("refused", &self.refused())
            .field("dropped", &self.dropped())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// What a stream's handler and the stream share.
struct Buffer<T> {
    capacity: usize,
    overflow: StreamOverflow,
    refused: AtomicU64,
    dropped: AtomicU64,
    state: Mutex<State<T>>,
}

struct State<T> {
    items: VecDeque<T>,
    /// Items dropped since the stream last yielded: the next item is `Lagged(lagged)`.
    lagged: u64,
    waker: Option<Waker>,
    /// The stream's subscription, until someone takes it out to unsubscribe it.
    subscription: Option<Subscription>,
    /// The stream was dropped or ended: offers drop their item.
    closed: bool,
}

impl<T> Buffer<T> {
    /// An emission's item: buffered, or handled by the overflow policy.
    fn offer(&self, item: T) -> Result<(), Refused> {
        let mut state = self.state.lock();
        if state.closed {
            drop(state);
            drop_caught("an item nobody streams", item);
            return Ok(());
        }
        let mut oldest = None;
        if state.items.len() >= self.capacity {
            match self.overflow {
                StreamOverflow::DropOldest => {
                    oldest = state.items.pop_front();
                    state.lagged += 1;
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
                StreamOverflow::RefuseNewest => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    drop(state);
                    drop_caught("an item refused by a full stream", item);
                    return Err(Refused(self.capacity));
                }
            }
        }
        state.items.push_back(item);
        let waker = state.waker.take();
        drop(state);
        drop_caught("an item dropped by a lagging stream", oldest);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

impl<T: Send> Waiter for Buffer<T> {
    fn check_removed(&self) {
        let mut state = self.state.lock();
        let removed = state.subscription.as_ref().is_some_and(|s| !s.is_linked());
        // The next poll yields what is buffered, then sees the removal and ends.
        let waker = if removed { state.waker.take() } else { None };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}
