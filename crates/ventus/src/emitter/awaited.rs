//! The lean awaited path: `run` on handlers that need none of the emission machinery.
//!
//! An awaited emission ([`EventEmitter::run`]) runs its handlers in the calling task. When
//! nothing about it asks for more, its first pass runs synchronously inside one poll of
//! the `run` future, on the payload that future owns: look the event up, claim the
//! once-subscribers, start every handler in subscription order (a sync handler runs to its
//! end, an async one is created and polled once). If every handler finished, the report is
//! returned from that same poll: no [`Emission`](super::Emission) is built, nothing is
//! reference-counted, the clock is not read. Only the handlers still pending after the
//! first pass are kept, each with its own `Arc<Subscriber>` (the map's guard, which pins
//! the snapshots, is `!Send` and never lives across a poll), and polled on later polls.
//!
//! | skipped | because |
//! |---|---|
//! | spans and handler timing | `tracing` does not enable the emission spans (`DEBUG`), no timeout applies, reports are not detailed |
//! | the `Arc` around the payload | no handler takes [`AnyEvent`](crate::AnyEvent) or is `blocking` |
//! | the `max_in_flight` permit and the debug log | the emitter has neither |
//!
//! Anything else takes the full path (`Emission::run`). The handlers, their order,
//! once-claims, success and failure callbacks, panics caught, metrics and the report's
//! counts are the same on both; dropping the `run` future drops the handlers not finished
//! on both.

use std::any::{type_name, Any};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use super::emission::{fail, spans_enabled, walk_caught, Isolated, NameRef};
use super::report::{Counts, EmissionReport, Outcome};
use super::{claim_once, name_ref, next_emission_id, EmissionId, EmitError, EventEmitter};
use crate::event::EventName;
use crate::handler::{panic_message, Ctx, ErasedCall, HandlerErrorKind};
use crate::linker::registry::{EventEntry, Subscriber};
use crate::processor::Processor;

/// A lean awaited emission whose first pass left some handlers running.
pub(super) struct Running {
    id: EmissionId,
    /// The report's event name.
    event: EventName,
    counts: Counts,
    /// The handlers still running, in subscription order; `None` once finished.
    handlers: Vec<Option<(Arc<Subscriber>, Isolated)>>,
}

/// What one poll of the lean awaited path came to.
pub(super) enum Step {
    /// The emission ended (or was refused); this is `run`'s result.
    Done(Result<EmissionReport, EmitError>),
    /// The emission needs the full path; nothing was done.
    Full,
}

impl<P: Processor + ?Sized> EventEmitter<P> {
    /// Whether an awaited emission to `direct` and `any` may take the lean awaited path.
    #[inline]
    pub(super) fn can_run_awaited(
        &self,
        direct: Option<&Arc<EventEntry>>,
        any: Option<&Arc<EventEntry>>,
    ) -> bool {
        self.shared.lean
            && direct.is_none_or(|e| e.lean_run)
            && any.is_none_or(|e| e.lean_run)
            && !spans_enabled()
    }

    /// One poll of a lean awaited emission: the first pass when `running` is `None`,
    /// then the handlers it left running.
    pub(super) fn poll_awaited<T: Send + Sync + 'static>(
        &self,
        cx: &mut Context<'_>,
        running: &mut Option<Running>,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<&T>,
        typed: bool,
    ) -> Poll<Step> {
        match running {
            Some(run) => self.poll_running(cx, run, event, static_name),
            None => self.first_pass(cx, running, event, static_name, payload, typed),
        }
    }

    fn first_pass<T: Send + Sync + 'static>(
        &self,
        cx: &mut Context<'_>,
        running: &mut Option<Running>,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<&T>,
        typed: bool,
    ) -> Poll<Step> {
        if let Err(err) = self.check(event, static_name) {
            return Poll::Ready(Step::Done(Err(err)));
        }
        // Pins the snapshots for this poll only: the guard is `!Send`, and the `run`
        // future must stay `Send`.
        let guard = self.linker.inner.registry.events.guard();
        let (direct, any) = self.lookup(event, &guard);
        if direct.is_none() && any.is_none() {
            return self.no_handler_step(event, static_name);
        }
        // `run` owns the payload and hands it back in a refusal.
        if let Err(err) = self.admit::<T>(event, static_name, typed, payload.is_some(), direct) {
            return Poll::Ready(Step::Done(Err(err)));
        }
        if !self.can_run_awaited(direct, any) {
            return Poll::Ready(Step::Full);
        }
        self.first_pass_on(cx, running, event, static_name, payload, direct, any)
    }

    /// The end of an awaited emission that found no handler to run; its report carries
    /// the name, as on the full path.
    fn no_handler_step(&self, event: &str, static_name: Option<&'static str>) -> Poll<Step> {
        Poll::Ready(Step::Done(Ok(self.no_handler(event, static_name))))
    }

    /// The first pass over `direct` and `any`, which the caller looked up and found fit
    /// for this path (see `can_run_awaited`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn first_pass_on<T: Send + Sync + 'static>(
        &self,
        cx: &mut Context<'_>,
        running: &mut Option<Running>,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<&T>,
        direct: Option<&Arc<EventEntry>>,
        any: Option<&Arc<EventEntry>>,
    ) -> Poll<Step> {
        let id = next_emission_id();
        if (direct.is_some_and(|e| e.has_once) || any.is_some_and(|e| e.has_once))
            && claim_once(Some(&self.linker.inner.registry), id, direct, any).is_none()
        {
            // Only once-subscribers claimed earlier are left: the same as no handler.
            return self.no_handler_step(event, static_name);
        }
        let name = name_ref(event, static_name, direct);
        let time = OnceLock::new();
        let linker = &*self.linker.inner;
        let ctx = Ctx::new(
            &name,
            EmissionId(id),
            &time,
            payload.map(|p| p as &(dyn Any + Send + Sync)),
            payload.map(|_| type_name::<T>()),
            None,
            linker.on_success.as_ref(),
        );
        let mut pass = Pass {
            name: &name,
            id: EmissionId(id),
            counts: Counts::default(),
            pending: Vec::new(),
        };
        walk_caught(
            direct,
            any,
            &mut pass,
            |pass, sub| pass.start(self, sub, &ctx, cx),
            |pass, sub, panic| pass.panicked(self, sub, &*panic),
        );
        let (counts, pending) = (pass.counts, pass.pending);
        drop(ctx);
        let event = name.into_report();
        if pending.is_empty() {
            self.shared.metrics.emitted_and_record(&counts);
            return Poll::Ready(Step::Done(Ok(EmissionReport {
                id: EmissionId(id),
                event,
                counts,
                handlers: Vec::new(),
            })));
        }
        self.shared.metrics.emitted();
        *running = Some(Running {
            id: EmissionId(id),
            event,
            counts,
            handlers: pending,
        });
        Poll::Pending
    }

    /// Polls the handlers the first pass left running, in subscription order.
    fn poll_running(
        &self,
        cx: &mut Context<'_>,
        run: &mut Running,
        event: &str,
        static_name: Option<&'static str>,
    ) -> Poll<Step> {
        let mut next = 0;
        while let Err(panic) = catch_unwind(AssertUnwindSafe(|| {
            while let Some(slot) = run.handlers.get_mut(next) {
                next += 1;
                let Some((_, fut)) = slot else { continue };
                if let Poll::Ready(result) = fut.poll(cx) {
                    if let Some((sub, _)) = slot.take() {
                        self.settle_late(&mut run.counts, run.id, &sub, result, event, static_name);
                    }
                }
            }
        })) {
            // The future that panicked is dropped with its slot.
            if let Some((sub, _)) = run.handlers[next - 1].take() {
                let kind = HandlerErrorKind::Panicked(panic_message(&*panic));
                self.settle_late(&mut run.counts, run.id, &sub, Err(kind), event, static_name);
            }
        }
        run.handlers.retain(Option::is_some);
        if !run.handlers.is_empty() {
            return Poll::Pending;
        }
        self.shared.metrics.record(&run.counts);
        Poll::Ready(Step::Done(Ok(EmissionReport {
            id: run.id,
            event: run.event.clone(),
            counts: run.counts,
            handlers: Vec::new(),
        })))
    }

    /// Counts how a handler that outlived the first pass ended.
    fn settle_late(
        &self,
        counts: &mut Counts,
        id: EmissionId,
        sub: &Subscriber,
        result: Result<(), HandlerErrorKind>,
        event: &str,
        static_name: Option<&'static str>,
    ) {
        match result {
            Ok(()) => counts.succeeded += 1,
            Err(kind) => {
                // The snapshot's name is out of reach here; failures are rare.
                let name = NameRef::Owned(self.name_of(event, static_name));
                counts.add(&Outcome::Failed(fail(
                    &name,
                    id,
                    &self.linker.inner,
                    sub,
                    kind,
                )));
            }
        }
    }
}

/// The first pass of a lean awaited emission: counts and the handlers left running.
struct Pass<'a> {
    name: &'a NameRef<'a>,
    id: EmissionId,
    counts: Counts,
    pending: Vec<Option<(Arc<Subscriber>, Isolated)>>,
}

impl Pass<'_> {
    /// Starts `sub`'s handler: runs a sync one, creates and polls an async one once.
    #[inline]
    fn start<P: Processor + ?Sized>(
        &mut self,
        emitter: &EventEmitter<P>,
        sub: &Arc<Subscriber>,
        ctx: &Ctx<'_>,
        cx: &mut Context<'_>,
    ) {
        if !sub.state.start(sub.once, self.id.0) {
            return;
        }
        let result = match &sub.handler.call {
            ErasedCall::Sync(call) => call(ctx),
            ErasedCall::Async(call) => match call(ctx) {
                Ok(mut fut) => match fut.as_mut().poll(cx) {
                    Poll::Ready(result) => result,
                    Poll::Pending => {
                        let fut = Isolated::new(fut, sub.handler.name);
                        self.pending.push(Some((sub.clone(), fut)));
                        return;
                    }
                },
                Err(kind) => Err(kind),
            },
        };
        match result {
            Ok(()) => self.counts.succeeded += 1,
            Err(kind) => self.failed(emitter, sub, kind),
        }
    }

    #[cold]
    fn panicked<P: Processor + ?Sized>(
        &mut self,
        emitter: &EventEmitter<P>,
        sub: &Subscriber,
        panic: &(dyn Any + Send),
    ) {
        self.failed(
            emitter,
            sub,
            HandlerErrorKind::Panicked(panic_message(panic)),
        );
    }

    #[cold]
    fn failed<P: Processor + ?Sized>(
        &mut self,
        emitter: &EventEmitter<P>,
        sub: &Subscriber,
        kind: HandlerErrorKind,
    ) {
        let err = fail(self.name, self.id, &emitter.linker.inner, sub, kind);
        self.counts.add(&Outcome::Failed(err));
    }
}
