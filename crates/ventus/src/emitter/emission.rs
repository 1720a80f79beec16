//! One emission: the event, its payload and the handlers it resolved.

use std::any::Any;
use std::fmt;
use std::future::poll_fn;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::Poll;
use std::time::SystemTime;

use crate::event::EventName;
use crate::handler::{
    guard_callback, panic_message, Ctx, ErasedCall, HandlerError, HandlerErrorKind, HandlerFuture,
    SharedPayload,
};
use crate::linker::registry::{EventEntry, Subscriber};
use crate::linker::LinkerInner;
use crate::processor::tokio::{in_scope, SyncScope};

/// Identifies one emission; unique within the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmissionId(pub(crate) u64);

impl EmissionId {
    /// The id as a number.
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
/// the handlers resolved when it was emitted (those linked to the event and to "any
/// event", each once, in subscription order). Once-subscriptions among them were claimed
/// for this emission before it was handed over.
///
/// `Emission<'a>` may borrow the emitter's stack frame (so an emission that runs at once
/// costs no allocation); [`into_owned`](Self::into_owned) makes an `Emission<'static>`
/// that can be spawned.
///
/// # Examples
///
/// A processor that runs every emission on a new thread:
///
/// ```
/// use ventus::{BoxError, Emission, EventEmitter, EventLinker, Processor};
///
/// #[derive(Debug)]
/// struct ThreadPerEmission;
///
/// impl Processor for ThreadPerEmission {
///     fn process(&self, emission: Emission<'_>) -> Result<(), BoxError> {
///         let emission = emission.into_owned();
///         std::thread::spawn(move || {
///             let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
///             rt.block_on(emission.run());
///         });
///         Ok(())
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, rx) = std::sync::mpsc::channel();
/// let linker = EventLinker::builder().build()?;
/// linker.on("Job").subscribe(move |n: &u32| tx.send(*n).unwrap())?;
///
/// let emitter = EventEmitter::builder().linker(&linker).processor(ThreadPerEmission).build();
/// emitter.emit_with("Job", 42_u32)?;
/// assert_eq!(rx.recv()?, 42);
/// # Ok(())
/// # }
/// ```
pub struct Emission<'a> {
    pub(crate) id: EmissionId,
    pub(crate) time: SystemTime,
    pub(crate) event: EventName,
    pub(crate) payload: PayloadSlot<'a>,
    pub(crate) payload_type: Option<&'static str>,
    pub(crate) direct: Option<Shared<'a, EventEntry>>,
    pub(crate) any: Option<Shared<'a, EventEntry>>,
    pub(crate) linker: Shared<'a, LinkerInner>,
}

impl<'a> Emission<'a> {
    /// The emission's id.
    pub fn id(&self) -> EmissionId {
        self.id
    }

    /// When it was emitted.
    pub fn time(&self) -> SystemTime {
        self.time
    }

    /// The event's name.
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// The payload's type name; `None` for an event emitted without one.
    pub fn payload_type(&self) -> Option<&'static str> {
        self.payload_type
    }

    /// How many handlers this emission will run, counting only those that can still run.
    pub fn handler_count(&self) -> usize {
        self.handlers()
            .filter(|s| s.state.runs_in(s.once, self.id.0))
            .count()
    }

    /// Whether every handler is sync and not `blocking`, so that
    /// [`try_run_inline`](Self::try_run_inline) runs the emission without a runtime.
    pub fn is_inline(&self) -> bool {
        self.direct.as_ref().is_none_or(|e| e.get().inline)
            && self.any.as_ref().is_none_or(|e| e.get().inline)
    }

    fn needs_shared(&self) -> bool {
        self.direct.as_ref().is_some_and(|e| e.get().needs_shared)
            || self.any.as_ref().is_some_and(|e| e.get().needs_shared)
    }

    /// Moves everything the emission borrows into owned storage, so it can outlive the
    /// `emit` call (be spawned or sent to another thread).
    pub fn into_owned(mut self) -> Emission<'static> {
        self.payload.share();
        let payload = match self.payload {
            PayloadSlot::Shared(p) => PayloadSlot::Shared(p),
            PayloadSlot::None | PayloadSlot::Borrowed(_) => PayloadSlot::None,
        };
        Emission {
            id: self.id,
            time: self.time,
            event: self.event,
            payload,
            payload_type: self.payload_type,
            direct: self.direct.map(Shared::into_owned),
            any: self.any.map(Shared::into_owned),
            linker: self.linker.into_owned(),
        }
    }

    pub(crate) fn prepare(&mut self) {
        if self.needs_shared() {
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
            self.time,
            self.payload.get(),
            self.payload_type,
            self.payload.shared(),
            self.linker.get().on_success.as_ref(),
        )
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
    #[allow(clippy::result_large_err)]
    pub fn try_run_inline(self) -> Result<(), Self> {
        if !self.is_inline() {
            return Err(self);
        }
        let ctx = self.ctx();
        for sub in self.handlers() {
            if !sub.state.runs_in(sub.once, self.id.0) {
                continue;
            }
            let result = match &sub.handler.call {
                ErasedCall::Sync(call) => catch_unwind(AssertUnwindSafe(|| call(&ctx)))
                    .unwrap_or_else(|panic| {
                        Err(HandlerErrorKind::Panicked(panic_message(&*panic)))
                    }),
                // `is_inline` rules this out; entries never change after they are built.
                ErasedCall::Async(_) => continue,
            };
            self.report(sub, result);
        }
        Ok(())
    }

    /// Runs every handler and completes when all have finished.
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
    /// finished has had its callbacks called.
    pub async fn run(mut self) {
        self.prepare();
        let this = &self;
        let ctx = this.ctx();
        let mut handlers = this.handlers();
        let mut pending: Vec<(&Arc<Subscriber>, HandlerFuture)> = Vec::new();
        let mut started = false;
        poll_fn(move |cx| {
            if !started {
                started = true;
                for sub in handlers.by_ref() {
                    if !sub.state.runs_in(sub.once, this.id.0) {
                        continue;
                    }
                    let mut fut = match this.start(sub, &ctx) {
                        Started::Done(result) => {
                            this.report(sub, result);
                            continue;
                        }
                        Started::Running(fut) => fut,
                    };
                    // Polled now, so handlers start in subscription order.
                    match poll_caught(&mut fut, cx) {
                        Poll::Ready(result) => this.report(sub, result),
                        Poll::Pending => pending.push((sub, fut)),
                    }
                }
                return if pending.is_empty() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                };
            }
            pending.retain_mut(|(sub, fut)| match poll_caught(fut, cx) {
                Poll::Ready(result) => {
                    this.report(sub, result);
                    false
                }
                Poll::Pending => true,
            });
            if pending.is_empty() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    fn start(&self, sub: &Arc<Subscriber>, ctx: &Ctx<'_>) -> Started {
        match &sub.handler.call {
            ErasedCall::Sync(call) if sub.blocking => match tokio::runtime::Handle::try_current() {
                Ok(handle) => Started::Running(self.spawn_blocking(&handle, sub)),
                Err(_) => Started::Done(call_caught(|| call(ctx))),
            },
            ErasedCall::Sync(call) => Started::Done(call_caught(|| call(ctx))),
            ErasedCall::Async(call) => match catch_unwind(AssertUnwindSafe(|| call(ctx))) {
                Ok(Ok(fut)) => Started::Running(fut),
                Ok(Err(kind)) => Started::Done(Err(kind)),
                Err(panic) => {
                    Started::Done(Err(HandlerErrorKind::Panicked(panic_message(&*panic))))
                }
            },
        }
    }

    fn spawn_blocking(
        &self,
        handle: &tokio::runtime::Handle,
        sub: &Arc<Subscriber>,
    ) -> HandlerFuture {
        let sub = sub.clone();
        let event = self.event.clone();
        let (id, time, payload_type) = (self.id, self.time, self.payload_type);
        let shared = self.payload.shared().cloned();
        let default_success = self.linker.get().on_success.clone();
        let scope = SyncScope::current();
        let task = handle.spawn_blocking(move || {
            let ctx = Ctx::new(
                &event,
                id,
                time,
                shared.as_deref(),
                payload_type,
                shared.as_ref(),
                default_success.as_ref(),
            );
            in_scope(scope, || match &sub.handler.call {
                ErasedCall::Sync(call) => call(&ctx),
                ErasedCall::Async(_) => Ok(()),
            })
        });
        Box::pin(async move {
            match task.await {
                Ok(result) => result,
                Err(err) if err.is_panic() => Err(HandlerErrorKind::Panicked(panic_message(
                    &*err.into_panic(),
                ))),
                Err(err) => Err(HandlerErrorKind::Failed(Box::new(err))),
            }
        })
    }

    /// Sends a failure to the subscriber's callback, or the linker's, and logs it.
    fn report(&self, sub: &Subscriber, result: Result<(), HandlerErrorKind>) {
        let Err(kind) = result else {
            return;
        };
        let err = HandlerError {
            event: self.event.clone(),
            handler: sub.handler.name,
            subscription: sub.id,
            emission: self.id,
            kind,
        };
        let linker = self.linker.get();
        match sub.on_failure.as_ref().or(linker.on_failure.as_ref()) {
            Some(callback) => {
                tracing::warn!(
                    event = %err.event, emission = self.id.0, subscription = sub.id.0,
                    handler = sub.handler.name, error = %err, "ventus handler failed"
                );
                guard_callback("failure callback", || callback(&err));
            }
            None => tracing::error!(
                event = %err.event, emission = self.id.0, subscription = sub.id.0,
                handler = sub.handler.name, error = %err,
                "ventus handler failed and no failure callback is set"
            ),
        }
    }
}

enum Started {
    Done(Result<(), HandlerErrorKind>),
    Running(HandlerFuture),
}

fn call_caught(f: impl FnOnce() -> Result<(), HandlerErrorKind>) -> Result<(), HandlerErrorKind> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|panic| Err(HandlerErrorKind::Panicked(panic_message(&*panic))))
}

fn poll_caught(
    fut: &mut HandlerFuture,
    cx: &mut std::task::Context<'_>,
) -> Poll<Result<(), HandlerErrorKind>> {
    match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
        Ok(poll) => poll,
        Err(panic) => Poll::Ready(Err(HandlerErrorKind::Panicked(panic_message(&*panic)))),
    }
}

/// The handlers of an event and of "any event", merged in subscription order; a
/// subscriber linked to both comes once.
struct Merge<'e> {
    a: &'e [Arc<Subscriber>],
    b: &'e [Arc<Subscriber>],
}

impl<'e> Iterator for Merge<'e> {
    type Item = &'e Arc<Subscriber>;

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
        Some(first)
    }
}

impl fmt::Debug for Emission<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emission")
            .field("id", &self.id)
            .field("event", &self.event)
            .field("time", &self.time)
            .field("payload_type", &self.payload_type)
            .field("handlers", &self.handler_count())
            .finish()
    }
}
