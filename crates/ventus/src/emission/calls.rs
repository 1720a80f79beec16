//! Calling user code safely: panics caught, futures dropped inside a catch, failures
//! reported to the failure callbacks, and the walk over an emission's handlers.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::event::{EmissionId, NameRef};
use crate::handler::{
    drop_caught, guard_callback, panic_message, HandlerError, HandlerErrorKind, HandlerFuture,
};
use crate::linker::registry::{EventEntry, Slot, Subscriber};
use crate::linker::LinkerInner;

/// A handler's future whose drop is isolated as its polls are: dropping it runs the
/// user's destructors (of what the future holds), and a panic there is logged and goes
/// no further, so a handler that times out, is cancelled or whose runtime shuts down
/// never takes its emission down with it.
pub(crate) struct Isolated {
    /// `None` only inside `drop`.
    fut: Option<HandlerFuture>,
    /// The handler's name, for the log of a panicking drop.
    handler: &'static str,
}

impl Isolated {
    pub(crate) fn new(fut: HandlerFuture, handler: &'static str) -> Self {
        Self {
            fut: Some(fut),
            handler,
        }
    }

    /// Polls the future; a panic in it unwinds to the caller, which catches it.
    #[inline]
    pub(crate) fn poll(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Result<(), HandlerErrorKind>> {
        match &mut self.fut {
            Some(fut) => fut.as_mut().poll(cx),
            None => unreachable!("an isolated future is only taken by its drop"),
        }
    }
}

impl Drop for Isolated {
    fn drop(&mut self) {
        drop_caught(self.handler, self.fut.take());
    }
}

/// The deadline of a handler started at `started` with `timeout`, and the timeout.
/// `None` without a timeout, and for one so long that the clock cannot add it
/// (`Duration::MAX`, say): such a timeout never fires, so it is no timeout.
#[inline]
pub(crate) fn deadline_of(
    timeout: Option<Duration>,
    started: Option<Instant>,
) -> Option<(Instant, Duration)> {
    let (timeout, started) = timeout.zip(started)?;
    Some((started.checked_add(timeout)?, timeout))
}

#[inline]
pub(crate) fn call_caught(
    f: impl FnOnce() -> Result<(), HandlerErrorKind>,
) -> Result<(), HandlerErrorKind> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|panic| Err(HandlerErrorKind::Panicked(panic_message(&*panic))))
}

pub(crate) fn handler_error(
    event: &NameRef<'_>,
    emission: EmissionId,
    sub: &Subscriber,
    kind: HandlerErrorKind,
) -> HandlerError {
    HandlerError {
        event: event.to_owned(),
        handler: sub.handler.name,
        subscription: sub.id,
        emission,
        kind,
    }
}

/// Sends a handler's failure to the subscriber's callback, or the linker's, and logs it.
#[cold]
#[inline(never)]
pub(crate) fn fail(
    event: &NameRef<'_>,
    emission: EmissionId,
    linker: &LinkerInner,
    sub: &Subscriber,
    kind: HandlerErrorKind,
) -> HandlerError {
    let err = handler_error(event, emission, sub, kind);
    match sub.on_failure.as_ref().or(linker.on_failure.as_ref()) {
        Some(callback) => {
            tracing::warn!(
                event = %err.event, emission = emission.0, subscription = sub.id.0,
                handler = sub.handler.name, error = %err, "ventus handler failed"
            );
            guard_callback("failure callback", || callback(&err));
        }
        None => tracing::error!(
            event = %err.event, emission = emission.0, subscription = sub.id.0,
            handler = sub.handler.name, error = %err,
            "ventus handler failed and no failure callback is set"
        ),
    }
    err
}

/// Whether `tracing` wants the emission and handler spans (`ventus.emission`,
/// `ventus.handler`, at `DEBUG`, with this module as their target); the lean paths are
/// only taken when it does not.
#[inline]
pub(crate) fn spans_enabled() -> bool {
    tracing::enabled!(tracing::Level::DEBUG)
}

/// Calls `step` on each handler of `direct` and `any`, merged in start order,
/// under one `catch_unwind` for the whole walk rather than one per handler (a closure
/// given to `catch_unwind` is called through a pointer and never inlined). A panic can
/// only come from the handler last started (or from reporting its failure): it goes to
/// `panicked` with that handler, and the walk goes on at the next one.
#[inline]
pub(crate) fn walk_caught<'e, S>(
    direct: Option<&'e Arc<EventEntry>>,
    any: Option<&'e Arc<EventEntry>>,
    state: &mut S,
    mut step: impl FnMut(&mut S, &'e Arc<Subscriber>),
    mut panicked: impl FnMut(&mut S, &'e Arc<Subscriber>, Box<dyn Any + Send>),
) {
    match (direct, any) {
        // One event's subscribers: walked by index, the panicking one is the last taken.
        (Some(entry), None) | (None, Some(entry)) => {
            let subs = &entry.subscribers[..];
            let mut next = 0;
            while let Err(panic) = catch_unwind(AssertUnwindSafe(|| {
                while let Some(sub) = subs.get(next) {
                    next += 1;
                    step(state, sub);
                }
            })) {
                panicked(state, &subs[next - 1], panic);
            }
        }
        (direct, any) => {
            let mut handlers = Merge {
                a: direct.map_or(&[], |e| &e.subscribers[..]),
                b: any.map_or(&[], |e| &e.subscribers[..]),
            };
            let mut running = None;
            while let Err(panic) = catch_unwind(AssertUnwindSafe(|| {
                for sub in handlers.by_ref() {
                    running = Some(sub);
                    step(state, sub);
                }
            })) {
                if let Some(sub) = running {
                    panicked(state, sub, panic);
                }
            }
        }
    }
}

/// The handlers of an event and of "any event", merged in start order (priority, then
/// subscription order; see `Subscriber::order`); a subscriber linked to both comes once.
pub(crate) struct Merge<'e> {
    pub(crate) a: &'e [Slot],
    pub(crate) b: &'e [Slot],
}

impl<'e> Iterator for Merge<'e> {
    type Item = &'e Arc<Subscriber>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let take_a = match (self.a.first(), self.b.first()) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => {
                if a.id == b.id {
                    self.b = &self.b[1..];
                }
                a.order() <= b.order()
            }
        };
        let slice = if take_a { &mut self.a } else { &mut self.b };
        let (first, rest) = slice.split_first()?;
        *slice = rest;
        Some(&**first)
    }
}

/// Handlers that started and have not ended, in start order; a slot is emptied
/// when its handler ends.
pub(crate) type RunningHandlers = Vec<Option<(Arc<Subscriber>, Isolated)>>;

/// Polls each handler still running, in start order, and hands each that ends
/// (by finishing, or by panicking while polled) to `ended`; then drops the ended slots.
/// A handler's slot is emptied before `ended` sees it, so nothing is reported twice.
pub(crate) fn poll_running_handlers(
    cx: &mut Context<'_>,
    running: &mut RunningHandlers,
    mut ended: impl FnMut(&Subscriber, Result<(), HandlerErrorKind>),
) {
    let mut next = 0;
    while let Err(panic) = catch_unwind(AssertUnwindSafe(|| {
        while let Some(slot) = running.get_mut(next) {
            next += 1;
            let Some((_, fut)) = slot else { continue };
            if let Poll::Ready(result) = fut.poll(cx) {
                if let Some((sub, fut)) = slot.take() {
                    drop(fut);
                    ended(&sub, result);
                }
            }
        }
    })) {
        // The future that panicked is dropped with its slot.
        if let Some((sub, fut)) = running[next - 1].take() {
            drop(fut);
            ended(
                &sub,
                Err(HandlerErrorKind::Panicked(panic_message(&*panic))),
            );
        }
    }
    running.retain(Option::is_some);
}
