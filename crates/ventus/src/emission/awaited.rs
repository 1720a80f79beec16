//! The lean awaited path: `run` on handlers that need none of the emission machinery.
//!
//! An awaited emission ([`EventEmitter::run`]) runs its handlers in the calling task. When
//! nothing about it asks for more, its first pass runs synchronously inside one poll of
//! the `run` future, on the payload that future owns: look the event up, claim the
//! once-subscribers, start every handler in start order (a sync handler runs to its
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
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use super::calls::{fail, poll_running_handlers, walk_caught, Isolated, RunningHandlers};
use super::claims::{claim_once, name_ref, no_handler};
use super::report::{Counts, EmissionReport, Outcome};
use super::settings::EmitterShared;
use crate::event::{next_emission_id, EmissionId, EventName, NameRef};
use crate::handler::{panic_message, Ctx, ErasedCall, HandlerErrorKind};
use crate::linker::registry::{EventEntry, Subscriber};
use crate::linker::LinkerInner;

/// A lean awaited emission whose first pass left some handlers running.
pub(crate) struct Running {
    id: EmissionId,
    /// The report's event name.
    event: EventName,
    counts: Counts,
    /// The handlers still running, in start order; `None` once finished.
    handlers: RunningHandlers,
}

/// The first pass over `direct` and `any`, which the caller looked up and found fit
/// for this path (see `can_run_awaited`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn first_pass<T: Send + Sync + 'static>(
    shared: &EmitterShared,
    linker: &LinkerInner,
    cx: &mut Context<'_>,
    running: &mut Option<Running>,
    event: &str,
    static_name: Option<&'static str>,
    payload: Option<&T>,
    direct: Option<&Arc<EventEntry>>,
    any: Option<&Arc<EventEntry>>,
) -> Poll<EmissionReport> {
    let id = next_emission_id();
    if (direct.is_some_and(|e| e.has_once) || any.is_some_and(|e| e.has_once))
        && claim_once(Some(&linker.registry), id, direct, any).is_none()
    {
        // Only once-subscribers claimed earlier are left: the same as no handler.
        return Poll::Ready(no_handler(shared, event, static_name));
    }
    let name = name_ref(event, static_name, direct);
    let time = OnceLock::new();
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
        |pass, sub| pass.start(linker, sub, &ctx, cx),
        |pass, sub, panic| pass.panicked(linker, sub, &*panic),
    );
    let (counts, pending) = (pass.counts, pass.pending);
    drop(ctx);
    let event = name.into_report();
    if pending.is_empty() {
        shared.metrics.emitted_and_record(&counts);
        return Poll::Ready(EmissionReport {
            id: EmissionId(id),
            event,
            counts,
            handlers: Vec::new(),
        });
    }
    shared.metrics.emitted();
    *running = Some(Running {
        id: EmissionId(id),
        event,
        counts,
        handlers: pending,
    });
    Poll::Pending
}

/// Polls the handlers the first pass left running, in start order.
pub(crate) fn poll_running(
    shared: &EmitterShared,
    linker: &LinkerInner,
    cx: &mut Context<'_>,
    run: &mut Running,
) -> Poll<EmissionReport> {
    let (counts, id, event) = (&mut run.counts, run.id, &run.event);
    poll_running_handlers(cx, &mut run.handlers, |sub, result| {
        settle_late(linker, counts, id, sub, result, event);
    });
    if !run.handlers.is_empty() {
        return Poll::Pending;
    }
    shared.metrics.record(&run.counts);
    Poll::Ready(EmissionReport {
        id: run.id,
        event: run.event.clone(),
        counts: run.counts,
        handlers: Vec::new(),
    })
}

/// Counts how a handler that outlived the first pass ended.
fn settle_late(
    linker: &LinkerInner,
    counts: &mut Counts,
    id: EmissionId,
    sub: &Subscriber,
    result: Result<(), HandlerErrorKind>,
    event: &EventName,
) {
    match result {
        Ok(()) => counts.succeeded += 1,
        Err(kind) => {
            // The snapshot's name is out of reach here; failures are rare.
            let name = NameRef::Owned(event.clone());
            counts.add(&Outcome::Failed(fail(&name, id, linker, sub, kind)));
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
    fn start(
        &mut self,
        linker: &LinkerInner,
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
            Err(kind) => self.failed(linker, sub, kind),
        }
    }

    #[cold]
    fn panicked(&mut self, linker: &LinkerInner, sub: &Subscriber, panic: &(dyn Any + Send)) {
        self.failed(
            linker,
            sub,
            HandlerErrorKind::Panicked(panic_message(panic)),
        );
    }

    #[cold]
    fn failed(&mut self, linker: &LinkerInner, sub: &Subscriber, kind: HandlerErrorKind) {
        let err = fail(self.name, self.id, linker, sub, kind);
        self.counts.add(&Outcome::Failed(err));
    }
}
