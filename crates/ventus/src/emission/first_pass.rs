//! Starting an owned emission without building its future.
//!
//! A scheduled emission is queued as a plain [`Emission`] value and started by the
//! processor with [`Emission::start_here`]: sync handlers run to their end and async
//! ones are created and polled once, in the caller's frame, with the caller's waker.
//! Most emissions end there, and then nothing was allocated for them beyond what their
//! handlers allocate (the handle's tracker aside): no future of the emission machine
//! (about 1.7 KB), no task. Only an emission with a handler still running after that
//! pass needs a future, and the one it gets, [`Rest`], owns just the emission and the
//! handlers still running, since everything else is done.
//!
//! The pass applies when nothing about the emission asks for the full machine
//! ([`run_report`](Emission::run_report)): the emitter has no timeout, detailed reports
//! or bound, no handler is `blocking` or takes [`AnyEvent`](crate::AnyEvent), `tracing`
//! does not enable the emission spans, and the emission was not cancelled before it
//! started. Any other emission takes the full machine, boxed, from the same call.
//!
//! What the pass does is what the full machine does on the same emission: handlers
//! start in start order, once-subscribers are marked started and retired, panics
//! are caught per handler, failures go to the failure callbacks, the metrics and the
//! report's counts are the same, a cancel while handlers run cancels them, and a [`Rest`]
//! dropped before its end (its runtime shut down) reports the handlers not finished as
//! cancelled.

use std::any::Any;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

use tracing::Instrument;

use super::calls::{
    fail, poll_running_handlers, spans_enabled, walk_caught, Isolated, RunningHandlers,
};
use super::record::Recorder;
use super::report::Outcome;
use super::Emission;
use crate::handler::{panic_message, ErasedCall, HandlerErrorKind};
use crate::linker::registry::Subscriber;

/// What is left of an emission that [`Emission::start_here`] could not finish: a future
/// to poll until it ends, in a task of its own.
pub(crate) type Rest = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The handlers the first pass left running, in start order.
type Pending = RunningHandlers;

impl Emission<'static> {
    /// Whether [`start_here`](Self::start_here) may run this emission without the full
    /// machine; see the module docs.
    fn fits_first_pass(&self) -> bool {
        let lean_entries = self.direct.as_ref().is_none_or(|e| e.get().lean_run)
            && self.any.as_ref().is_none_or(|e| e.get().lean_run);
        lean_entries
            && !self.detailed
            && self.permit.is_none()
            && self.emitter.get().lean
            && !self.is_cancelled()
            && !spans_enabled()
    }

    /// Starts the emission here: its sync handlers run to their end and its async ones
    /// are created and polled once with `cx`. `None` if that ended the emission (its
    /// report is out); otherwise what is left of it, to be polled to its end elsewhere.
    /// An emission that does not fit the first pass is run on the full machine, polled
    /// once here too.
    pub(crate) fn start_here(mut self, cx: &mut Context<'_>) -> Option<Rest> {
        if !self.fits_first_pass() {
            let mut full: Rest = Box::pin(async move {
                let _ = self.run_report().await;
            });
            return full.as_mut().poll(cx).is_pending().then_some(full);
        }
        self.prepare();
        // The span it was made in (with ventus's spans off, the only one it has): its
        // handlers run in it here, and its rest too.
        let made_in = self.take_made_in();
        let entered = made_in.as_ref().map(tracing::Span::enter);
        // Not tracking yet: nothing between here and `finish` can drop the emission
        // (handler panics are caught by the walk), so only a rest needs a recorder that
        // reports if it is dropped.
        let mut rec = Recorder::new(false, 0);
        let mut pending = Pending::new();
        self.first_pass(cx, &mut rec, &mut pending);
        if pending.is_empty() {
            let _ = self.finish(rec, false);
            return None;
        }
        drop(entered);
        let rec = rec.tracking(&mut self);
        Some(match made_in {
            Some(span) => Box::pin(self.rest(rec, pending).instrument(span)),
            None => Box::pin(self.rest(rec, pending)),
        })
    }

    /// Starts every handler that may run, in start order.
    fn first_pass(&self, cx: &mut Context<'_>, rec: &mut Recorder, pending: &mut Pending) {
        let ctx = self.ctx();
        let direct = self.direct.as_ref().map(|e| e.get_arc());
        let any = self.any.as_ref().map(|e| e.get_arc());
        walk_caught(
            direct,
            any,
            &mut (rec, pending),
            |(rec, pending), sub| {
                if !self.may_start(sub) {
                    return;
                }
                let result = match &sub.handler.call {
                    ErasedCall::Sync(call) => call(&ctx),
                    ErasedCall::Async(call) => match call(&ctx) {
                        Ok(mut fut) => match fut.as_mut().poll(cx) {
                            Poll::Ready(result) => result,
                            Poll::Pending => {
                                pending.push(Some((
                                    sub.clone(),
                                    Isolated::new(fut, sub.handler.name),
                                )));
                                return;
                            }
                        },
                        Err(kind) => Err(kind),
                    },
                };
                self.count(rec, sub, result);
            },
            |(rec, _), sub, panic| self.count_panic(rec, sub, &*panic),
        );
    }

    /// The rest of an emission whose first pass left `pending` running: polls them to
    /// their end, or cancels them when the emission is cancelled.
    async fn rest(self, mut rec: Recorder, mut pending: Pending) {
        let cancelled = {
            let this = &self;
            let rec = &mut rec;
            let mut watch = pin!(async {
                match &this.tracker {
                    Some(guard) => guard.cancelled().await,
                    None => std::future::pending().await,
                }
            });
            poll_fn(move |cx| {
                if watch.as_mut().poll(cx).is_ready() {
                    rec.counts.cancelled += pending.len() as u32;
                    // Dropped here, before the report: a cancelled handler has stopped.
                    pending.clear();
                    return Poll::Ready(true);
                }
                poll_running_handlers(cx, &mut pending, |sub, result| this.count(rec, sub, result));
                if pending.is_empty() {
                    Poll::Ready(false)
                } else {
                    Poll::Pending
                }
            })
            .await
        };
        let _ = self.finish(rec, cancelled);
    }

    /// Counts how a handler ended; a failure goes to the failure callbacks.
    #[inline]
    fn count(&self, rec: &mut Recorder, sub: &Subscriber, result: Result<(), HandlerErrorKind>) {
        match result {
            Ok(()) => rec.counts.succeeded += 1,
            Err(kind) => self.count_failure(rec, sub, kind),
        }
    }

    #[cold]
    fn count_panic(&self, rec: &mut Recorder, sub: &Subscriber, panic: &(dyn Any + Send)) {
        self.count_failure(rec, sub, HandlerErrorKind::Panicked(panic_message(panic)));
    }

    #[cold]
    fn count_failure(&self, rec: &mut Recorder, sub: &Subscriber, kind: HandlerErrorKind) {
        let err = fail(&self.event, self.id, self.linker.get(), sub, kind);
        rec.counts.add(&Outcome::Failed(err));
    }
}
