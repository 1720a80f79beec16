//! Submission order: an emitter built with `submission_order(true)` runs its emissions
//! one at a time, in the order they entered its queue, whatever its processor.
//!
//! # Invariants
//!
//! - At most one emission of a [`Sequencer`] is with its processor at a time: `busy` is
//!   set by whoever hands an emission over and cleared only when the queue is found
//!   empty at the end of a turn. Every other accepted emission waits in `waiting`, in
//!   the order it was accepted.
//! - Only the emission with the processor carries a [`Turn`] (set by the hand-over
//!   loop); the turn ends when the emission is dropped, which is after its report was
//!   published (`Emission::finish`), or without running (refused, or dropped by its
//!   processor): its guard reports it. Waiting emissions carry none.
//! - The next emission is handed over by exactly one party: the hand-over loop
//!   ([`Sequencer::run_from`]) swaps `hand` to `RETURNED` once `process` returned, the
//!   active turn's drop swaps it to `ENDED`; whichever swap comes second sees the
//!   other's value and continues the chain. A processor that runs emissions inline
//!   therefore runs the queue in a loop, not N frames deep.
//!
//! # Deadlock safety
//!
//! The queue's lock is held only to push, pop or flip `busy`: never while `process` is
//! called, nor while an emission (user payloads and handlers) is dropped.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::{Emission, Tracker};

/// What a [`Sequencer`] hands an emission to at its turn: its emitter's processor,
/// behind a trait of this layer (the emission layer knows no processor; the emitter
/// implements it for every one).
pub(crate) trait TakeTurn: Send + Sync {
    /// Gives `emission` to the processor; its handle is the one `emit` made.
    fn take_turn(&self, emission: Emission<'static>) -> Result<(), crate::handler::BoxError>;
}

/// `hand`: the active emission is with the processor, neither side is done.
const RUNNING: u8 = 0;
/// `hand`: `process` returned; the turn's drop continues the chain.
const RETURNED: u8 = 1;
/// `hand`: the turn ended; the hand-over loop continues the chain.
const ENDED: u8 = 2;

/// The queue of an ordered emitter, shared by its clones and its emissions.
pub(crate) struct Sequencer {
    /// Guarded: the waiting emissions and whether one is with the processor.
    queue: Mutex<Queue>,
    /// The hand-off of the active turn (`RUNNING`, `RETURNED`, `ENDED`).
    hand: AtomicU8,
    /// How the active emission ended: `UNRUN` until its `finish` sets `FINISHED` or
    /// `CANCELLED`. Written and read on the thread that ends it (`finish`, then its
    /// turn's drop); reset by the hand-over loop before the next one.
    outcome: AtomicU8,
    /// The emitter's processor. Weak: the emitter owns it, its emissions must not keep
    /// it alive (a thread pool's drop joins its workers). Set once, at build.
    processor: Weak<dyn TakeTurn>,
    /// Woken when the queue goes idle (empty, nothing with the processor).
    idle: Notify,
    /// Emissions of the queue that ended after running to their end.
    finished: AtomicUsize,
    /// Emissions of the queue that ended cancelled, or dropped without running.
    cancelled: AtomicUsize,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Emission<'static>>,
    busy: bool,
    /// The tracker of the emission with the processor, for a shutdown's deadline to
    /// cancel it wherever it runs (a sync-context emission is no processor's to cancel).
    current: Option<Arc<Tracker>>,
}

/// The tracker of an emission about to be handed over.
fn tracker_of(emission: &Emission<'_>) -> Option<Arc<Tracker>> {
    emission.tracker.as_ref().map(|guard| guard.tracker.clone())
}

/// `outcome`: the active emission has not finished (dropped without running, so far).
const UNRUN: u8 = 0;
/// `outcome`: it ran to its end.
const FINISHED: u8 = 1;
/// `outcome`: it ended cancelled.
const CANCELLED: u8 = 2;

/// The turn of the emission with the processor; the next one's starts when it drops.
/// One pointer: unordered emissions carry `None` in its place.
pub(crate) struct Turn(Arc<Sequencer>);

impl Turn {
    /// Records how the emission ended, just before it drops (`Emission::finish`).
    pub(crate) fn ended(&self, cancelled: bool) {
        let outcome = if cancelled { CANCELLED } else { FINISHED };
        self.0.outcome.store(outcome, Ordering::Relaxed);
    }
}

impl Sequencer {
    pub(crate) fn new(processor: Weak<dyn TakeTurn>) -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(Queue::default()),
            hand: AtomicU8::new(RUNNING),
            outcome: AtomicU8::new(UNRUN),
            processor,
            idle: Notify::new(),
            finished: AtomicUsize::new(0),
            cancelled: AtomicUsize::new(0),
        })
    }

    /// Takes `emission` (owned and tracked) into the queue: handed to the processor now
    /// if nothing runs, else at the back of the queue.
    pub(crate) fn submit(self: &Arc<Self>, emission: Emission<'static>) {
        {
            let mut queue = self.queue.lock();
            if queue.busy {
                queue.waiting.push_back(emission);
                return;
            }
            queue.busy = true;
            queue.current = tracker_of(&emission);
        }
        self.run_from(emission);
    }

    /// The hand-over loop: gives `next` to the processor, and the ones after it for as
    /// long as their turns end before `process` returns.
    fn run_from(self: &Arc<Self>, mut next: Emission<'static>) {
        loop {
            next.turn = Some(Turn(self.clone()));
            // Relaxed: the one party that continues the chain owns `hand` and `outcome`
            // until it hands the next emission over; the AcqRel swaps order what follows.
            self.hand.store(RUNNING, Ordering::Relaxed);
            self.outcome.store(UNRUN, Ordering::Relaxed);
            self.hand_over(next);
            if self.hand.swap(RETURNED, Ordering::AcqRel) != ENDED {
                // Still running: its turn's drop continues the chain.
                return;
            }
            match self.pop() {
                Some(emission) => next = emission,
                None => return,
            }
        }
    }

    /// Gives `emission` to the processor. A refusal, or a panic, drops the emission,
    /// whose guard reports it cancelled with its handlers.
    fn hand_over(&self, emission: Emission<'static>) {
        let Some(processor) = self.processor.upgrade() else {
            // The emitter and its processor are gone: nothing can run it.
            drop(emission);
            return;
        };
        let id = emission.id();
        match catch_unwind(AssertUnwindSafe(|| processor.take_turn(emission))) {
            // The handle is the caller's, made at `emit`: the processor's was a copy.
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(
                emission = id.as_u64(),
                error = %err,
                "ventus processor refused an ordered emission at its turn; reported cancelled"
            ),
            Err(panic) => tracing::error!(
                emission = id.as_u64(),
                panic = %crate::handler::panic_message(&*panic),
                "ventus processor panicked at an ordered emission's turn; reported cancelled"
            ),
        }
        // Possibly the last handle on the processor (the emitter was dropped meanwhile):
        // its drop runs here, before the next hand-over.
        drop(processor);
    }

    /// The next waiting emission, or `None` with the queue set idle.
    fn pop(&self) -> Option<Emission<'static>> {
        let mut queue = self.queue.lock();
        let next = queue.waiting.pop_front();
        // The previous emission's tracker drops after the lock is released: dropping its
        // last reference drops what it holds (a callback of `on_finish` never called).
        let previous = std::mem::replace(&mut queue.current, next.as_ref().and_then(tracker_of));
        let idle = next.is_none();
        if idle {
            queue.busy = false;
        }
        drop(queue);
        drop(previous);
        if idle {
            self.idle.notify_waiters();
        }
        next
    }

    /// Whether nothing is queued or running.
    fn is_idle(&self) -> bool {
        !self.queue.lock().busy
    }

    /// Completes when nothing is queued or running.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            // Registered before the check, so going idle in between still wakes it.
            notified.as_mut().enable();
            if self.is_idle() {
                return;
            }
            notified.await;
        }
    }

    /// Takes every waiting emission out of the queue and drops them (outside the lock):
    /// each is reported cancelled with its handlers, and counted. The one with the
    /// processor stays.
    pub(crate) fn cancel_waiting(&self) {
        let waiting = std::mem::take(&mut self.queue.lock().waiting);
        self.cancelled.fetch_add(waiting.len(), Ordering::Relaxed);
        drop(waiting);
    }

    /// Cancels the emission with the processor, if any (as its handle's `cancel` does).
    pub(crate) fn cancel_current(&self) {
        let current = self.queue.lock().current.clone();
        if let Some(tracker) = current {
            tracker.cancel();
        }
    }

    /// How many emissions of the queue ended so far: (finished, cancelled).
    pub(crate) fn ended(&self) -> (usize, usize) {
        // Relaxed: statistics read after the waits of a shutdown.
        (
            self.finished.load(Ordering::Relaxed),
            self.cancelled.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let seq = &self.0;
        let counter = match seq.outcome.load(Ordering::Relaxed) {
            FINISHED => &seq.finished,
            _ => &seq.cancelled,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if seq.hand.swap(ENDED, Ordering::AcqRel) == RETURNED {
            if let Some(next) = seq.pop() {
                seq.run_from(next);
            }
        }
    }
}

/// A model of the hand-over between the loop ([`Sequencer::run_from`]) and the active
/// turn's drop: three emissions submitted in a row, the first and third run on threads
/// of their own (a processor that spawns), the second inline (a processor that runs it
/// in `process`). Each must run once, in order, never two at once. A copy of the protocol
/// on loom's primitives (the real code uses `parking_lot` and holds emissions); change
/// both together. Run by `.ci/run` with `--cfg ventus_loom`.
#[cfg(all(test, ventus_loom))]
mod loom_tests {
    use std::collections::VecDeque;

    use loom::sync::atomic::{AtomicBool, AtomicU8, Ordering};
    use loom::sync::{Arc, Mutex};
    use loom::thread;

    use super::{ENDED, RETURNED, RUNNING};

    #[derive(Default)]
    struct Model {
        /// `Queue`: the waiting emissions and `busy`.
        queue: Mutex<(VecDeque<u32>, bool)>,
        /// `Sequencer::hand`.
        hand: AtomicU8,
        /// Set while an emission's handlers run.
        running: AtomicBool,
        /// The emissions in the order they ran.
        ran: Mutex<Vec<u32>>,
        /// Threads the spawning processor started, joined by the model's end.
        threads: Mutex<Vec<thread::JoinHandle<()>>>,
    }

    fn submit(m: &Arc<Model>, n: u32) {
        {
            let mut queue = m.queue.lock().unwrap();
            if queue.1 {
                queue.0.push_back(n);
                return;
            }
            queue.1 = true;
        }
        run_from(m, n);
    }

    fn run_from(m: &Arc<Model>, mut next: u32) {
        loop {
            m.hand.store(RUNNING, Ordering::Relaxed);
            process(m, next);
            if m.hand.swap(RETURNED, Ordering::AcqRel) != ENDED {
                return;
            }
            match pop(m) {
                Some(n) => next = n,
                None => return,
            }
        }
    }

    fn pop(m: &Model) -> Option<u32> {
        let mut queue = m.queue.lock().unwrap();
        let next = queue.0.pop_front();
        if next.is_none() {
            queue.1 = false;
        }
        next
    }

    /// The processor: runs emission `n` (its handlers, then its turn's drop).
    fn process(m: &Arc<Model>, n: u32) {
        let run = {
            let m = m.clone();
            move || {
                assert!(!m.running.swap(true, Ordering::Relaxed), "two at once");
                m.ran.lock().unwrap().push(n);
                m.running.store(false, Ordering::Relaxed);
                // `Turn::drop`.
                if m.hand.swap(ENDED, Ordering::AcqRel) == RETURNED {
                    if let Some(next) = pop(&m) {
                        run_from(&m, next);
                    }
                }
            }
        };
        if n % 2 == 0 {
            run();
        } else {
            let handle = thread::spawn(run);
            m.threads.lock().unwrap().push(handle);
        }
    }

    #[test]
    fn hand_over_runs_each_once_in_order() {
        loom::model(|| {
            let m = Arc::new(Model::default());
            for n in 1..=3 {
                submit(&m, n);
            }
            loop {
                let handle = m.threads.lock().unwrap().pop();
                match handle {
                    Some(handle) => handle.join().unwrap(),
                    None => break,
                }
            }
            assert_eq!(*m.ran.lock().unwrap(), [1, 2, 3]);
            assert!(!m.queue.lock().unwrap().1, "idle at the end");
        });
    }
}
