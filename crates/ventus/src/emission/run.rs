//! The machine that runs an [`Emission`]: starts its handlers in start order,
//! drives the async ones, applies timeouts and cancellation, isolates panics, and
//! records outcomes into its report.

use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant};

use tracing::{Instrument, Span};

use super::calls::{call_caught, deadline_of, fail, handler_error, Isolated, Merge};
use super::handle::Emitted;
use super::hook::HandlerInfo;
use super::record::Recorder;
use super::report::{EmissionReport, Outcome};
use super::scope::{in_scope, SyncScope};
use super::settings::Holding;
use super::{Emission, PayloadSlot};
use crate::event::NameRef;
use crate::handler::{
    drop_caught, panic_message, Ctx, ErasedCall, HandlerError, HandlerErrorKind, HandlerFuture,
};
use crate::linker::registry::Subscriber;

impl<'a> Emission<'a> {
    /// Runs the emission to its end on this thread if every handler is inline
    /// ([`is_inline`](Self::is_inline)); otherwise gives it back untouched.
    ///
    /// # Errors
    ///
    /// Returns the emission itself when some handler is async or `blocking`, or when it
    /// was cancelled before it started (its handlers are then reported cancelled by
    /// [`run`](Self::run), without starting); drive it with [`run`](Self::run) on a
    /// runtime instead.
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
        // Cancelled before it started (waiting in a queue): the full machine reports its
        // handlers cancelled without starting them.
        if !self.is_inline() || self.is_cancelled() {
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

    pub(crate) fn prepare(&mut self) {
        if self.needs_shared {
            self.payload.share();
        }
    }

    pub(crate) fn handlers(&self) -> Merge<'_> {
        Merge {
            a: self
                .direct
                .as_ref()
                .map_or(&[], |e| &e.get().subscribers[..]),
            b: self.any.as_ref().map_or(&[], |e| &e.get().subscribers[..]),
        }
    }

    pub(super) fn ctx(&self) -> Ctx<'_> {
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

    /// The emission's span for this run; takes the made-in span, so one call per run.
    fn span(&self) -> Span {
        match self.take_made_in() {
            // Tracked: a child of the span it was made in, not of the place it runs;
            // with ventus's own spans off, that span itself.
            Some(parent) => {
                let span = tracing::debug_span!(
                    parent: &parent,
                    "ventus.emission",
                    event = %self.event,
                    emission = self.id.0
                );
                if span.is_disabled() {
                    parent
                } else {
                    span
                }
            }
            None => {
                tracing::debug_span!("ventus.emission", event = %self.event, emission = self.id.0)
            }
        }
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
                    // Polled now, so handlers start in start order.
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
    /// [`ClaimState::start`](crate::linker::claim::ClaimState::start)). A once-subscriber is
    /// retired when it starts: from then on its claim is final, and the handler sees
    /// itself unlinked. The emitter retires the claims not started.
    #[inline]
    pub(super) fn may_start(&self, sub: &Subscriber) -> bool {
        if let Some(hook) = &self.emitter.get().hook {
            if !hook.admit(&self.info(sub)) {
                return false;
            }
        }
        if !sub.state.start(sub.once, self.id.0) {
            return false;
        }
        if sub.once {
            self.linker.get().registry.retire(sub.id);
        }
        true
    }

    /// `sub` as a [`HandlerHook`](super::HandlerHook) sees it.
    fn info(&self, sub: &Subscriber) -> HandlerInfo<'_> {
        HandlerInfo {
            event: self.event.as_str(),
            emission: self.id,
            subscription: sub.id,
            handler: sub.handler.name,
        }
    }

    /// Tells the emitter's hook, if any, how `sub` ended.
    fn tell_hook(&self, sub: &Subscriber, outcome: &Outcome) {
        if let Some(hook) = &self.emitter.get().hook {
            hook.ended(&self.info(sub), outcome);
        }
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
        let outcome = Outcome::Failed(err);
        self.tell_hook(sub, &outcome);
        rec.add_ended(sub, outcome, started, ended, span);
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
        // (An emitter with a hook never takes the lean paths; its check is the last.)
        if result.is_ok()
            && rec.details.is_none()
            && started.is_none()
            && self.emitter.get().hook.is_none()
        {
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
        self.tell_hook(sub, &outcome);
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
        self.tell_hook(sub, &Outcome::Cancelled);
        rec.add(sub, Outcome::Cancelled, started, span);
    }

    /// Sends a failure to the subscriber's callback, or the linker's, and logs it.
    fn fail(&self, sub: &Subscriber, kind: HandlerErrorKind) -> HandlerError {
        fail(&self.event, self.id, self.linker.get(), sub, kind)
    }

    /// Publishes the outcome: counters, the processor's in-flight count, the handle's
    /// report, in this order. `cancelled`: the emission was cancelled.
    pub(super) fn finish(mut self, mut rec: Recorder, cancelled: bool) -> Emitted {
        let ticket = match rec.unfinished.take() {
            Some(unfinished) => unfinished.ticket,
            None => self.tracker.as_mut().and_then(|g| g.ticket.take()),
        };
        self.emitter.get().metrics.record(&rec.counts);
        // The emission's share of the payload goes here, before the report is out; its
        // `Drop` is user code.
        drop_caught(
            "a payload",
            std::mem::replace(&mut self.payload, PayloadSlot::None),
        );
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
        if let Some(turn) = &self.turn {
            turn.ended(cancelled);
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
