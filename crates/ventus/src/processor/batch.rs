//! Scheduling without a spawn per emission.
//!
//! An emission scheduled in an async context is queued as it is, an owned [`Emission`]
//! (a *job*), with no future built for it. Jobs scheduled from one thread onto one
//! runtime go into that thread's [`Batch`], which *drainer* tasks empty. A drainer
//! starts each job in its own task ([`Emission::start_here`]: sync handlers to their
//! end, async ones polled once); a job whose handlers all finish then is done, and what
//! is left of one still running is spawned as a task of its own (which polls it again
//! with its own waker), so a slow emission never holds up the others. A drainer yields
//! to the runtime after [`FAIRNESS_BUDGET`] jobs, and a batch runs up to one drainer per
//! worker thread, so emissions keep the parallelism that a task per emission would have
//! had.
//!
//! On an empty queue a drainer parks (its waker kept in the batch) and the next push
//! wakes it, so a steady trickle of emissions costs a wake-up each rather than a task
//! each. It stays parked as long as the batch's thread may push again; once the thread
//! lets go of the batch (it ends, or schedules on another runtime) the batch is
//! *ending* and its drainers end on the empty queue. A batch on one of ventus's own
//! runtimes (the sync-context and thread-pool ones, which tell whether they are idle by
//! counting their tasks) is ending from the start: its drainers never park.
//!
//! # Invariants
//!
//! - `State::drainers` counts the drainer tasks spawned for a batch and not ended or
//!   dropped; it changes only under the state's lock, together with the queue and
//!   `parked`. A drainer parks only after it found the queue empty under that lock,
//!   registering its waker there, so a push either is seen by the drainer's check or
//!   finds its waker (taken under the lock, woken after it).
//! - A push wakes a parked drainer if there is one, else spawns a drainer if fewer than
//!   the runtime's workers are counted, else leaves the job to the counted drainers,
//!   which are running (none is parked) and will take it. A drainer that takes a job
//!   takes its own entry (by its lease's id, whatever waker it parked with) out of
//!   `parked` too, so `parked` holds only drainers that wait.
//! - A drainer ends only on the empty queue of an ending batch, leaving the count under
//!   the lock where it found the queue empty.
//! - A drainer dropped before it ended (its runtime shut down, or it unwound) takes its
//!   waker out of `parked` and leaves the count. If it was the last, it drops the queued
//!   jobs, which releases their in-flight guards and sends their handles a report, as a
//!   dropped task would; otherwise it wakes a parked drainer to take them.
//!
//! # Deadlock safety
//!
//! One lock per batch, held only to push or pop jobs, to count drainers and to keep
//! their wakers; never while a job runs, a task is spawned or woken, or a job is dropped.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;
use tokio::runtime::Handle;

use crate::emission::scope::on_ventus_runtime;
use crate::emission::Emission;

/// A scheduled emission, tracked: it counts its own end.
pub(crate) type Job = Emission<'static>;

/// Jobs a drainer runs before it yields to the runtime's other tasks.
const FAIRNESS_BUDGET: usize = 64;

/// The jobs scheduled from one thread onto one runtime.
pub(crate) struct Batch {
    /// The runtime the drainers run on.
    runtime: tokio::runtime::Id,
    /// The most drainers at once: the runtime's worker threads.
    max_drainers: usize,
    /// Guarded: the queue and its drainer count.
    state: Mutex<State>,
}

struct State {
    /// Jobs not yet taken by a drainer, oldest first.
    jobs: VecDeque<Job>,
    /// Drainer tasks spawned and not dropped, running or parked.
    drainers: usize,
    /// The drainers parked on the empty queue, by their lease's id, with their wakers.
    parked: Vec<(u64, Waker)>,
    /// The id of the next drainer's lease.
    next_id: u64,
    /// Drainers end on the empty queue instead of parking: the thread that pushes here
    /// let go of the batch (it ended, or moved to another runtime), or the runtime is
    /// one of ventus's own.
    ending: bool,
}

/// The thread-local slot's hold on its batch. Dropped when the thread ends or schedules
/// on another runtime: the batch is ending, so its drainers end once they have run what
/// is queued instead of staying parked until the runtime shuts down.
struct Home(Arc<Batch>);

impl Drop for Home {
    fn drop(&mut self) {
        let parked = {
            let mut state = self.0.state.lock();
            state.ending = true;
            std::mem::take(&mut state.parked)
        };
        // Woken outside the lock; each ends at its next poll.
        for (_, waker) in parked {
            waker.wake();
        }
    }
}

thread_local! {
    /// This thread's batch for the runtime it last scheduled on.
    static BATCH: RefCell<Option<Home>> = const { RefCell::new(None) };
}

/// Schedules `job` on `handle`'s runtime, through this thread's batch.
pub(crate) fn schedule(handle: &Handle, job: Job) {
    let mut job = Some(job);
    // The batch is used through the thread-local slot's reference: no reference count
    // changes per emission, only when a drainer is spawned.
    let start = BATCH.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        let id = handle.id();
        let batch = match &mut *slot {
            Some(Home(batch)) if batch.runtime == id => batch,
            slot => {
                // A new runtime on this thread: the old batch is ending, and its
                // drainers finish its jobs and end (without drainers, its queue is
                // empty, so dropping it here runs no user code).
                let home = slot.insert(Home(Arc::new(Batch {
                    runtime: id,
                    max_drainers: handle.metrics().num_workers().max(1),
                    state: Mutex::new(State {
                        jobs: VecDeque::new(),
                        drainers: 0,
                        parked: Vec::new(),
                        next_id: 0,
                        ending: on_ventus_runtime(handle),
                    }),
                })));
                &mut home.0
            }
        };
        let job = job.take().unwrap_or_else(|| unreachable!("taken once"));
        match batch.push(job) {
            Push::Queued => None,
            Push::Wake(waker) => Some(Start::Wake(waker)),
            Push::Spawn(id) => Some(Start::Spawn(batch.clone(), id)),
        }
    });
    match start {
        Ok(None) => {}
        // Woken outside the slot's borrow and the batch's lock.
        Ok(Some(Start::Wake(waker))) => waker.wake(),
        // Spawned outside the slot's borrow: on a runtime that is shutting down, `spawn`
        // drops the drainer at once, and with it the queued jobs, whose drops may run
        // user code that schedules again.
        Ok(Some(Start::Spawn(batch, id))) => drop(handle.spawn(drain(Lease {
            batch,
            id,
            ended: false,
        }))),
        // The thread is ending and its batch is gone: a task of its own.
        Err(_) => {
            if let Some(job) = job {
                drop(handle.spawn(job.run()));
            }
        }
    }
}

/// What `schedule` does after a push, outside the batch's lock.
enum Start {
    Wake(Waker),
    Spawn(Arc<Batch>, u64),
}

/// What a push asks of its caller.
enum Push {
    /// A running drainer will take the job.
    Queued,
    /// Wake this parked drainer.
    Wake(Waker),
    /// Spawn a drainer, already counted, with this lease id.
    Spawn(u64),
}

impl Batch {
    /// Queues `job`, and says who takes it.
    fn push(&self, job: Job) -> Push {
        let mut state = self.state.lock();
        state.jobs.push_back(job);
        if let Some((_, waker)) = state.parked.pop() {
            return Push::Wake(waker);
        }
        // Up to one drainer per worker: a drainer busy with a long first poll (a sync
        // handler that blocks) must not hold up the jobs behind it while another worker
        // could run them, as it would with a task per emission.
        if state.drainers < self.max_drainers {
            state.drainers += 1;
            state.next_id += 1;
            Push::Spawn(state.next_id)
        } else {
            Push::Queued
        }
    }
}

/// A drainer's place in its batch's count.
struct Lease {
    batch: Arc<Batch>,
    /// This drainer's entry in `parked`, whatever waker it parked with.
    id: u64,
    /// Set when the drainer left the count on the empty queue of an ending batch.
    ended: bool,
}

impl Lease {
    /// The next job; on an empty queue, parks the drainer (its waker registered under
    /// the lock that pushes take) until a push wakes it, or, if the batch is ending,
    /// leaves the count: `None`, and the drainer ends.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Job>> {
        let mut state = self.batch.state.lock();
        if let Some(job) = state.jobs.pop_front() {
            // Woken by something else than the push that took its waker (a handler's
            // future polled with this drainer's context): it no longer waits.
            let own = unpark(&mut state, self.id);
            // Its waker is dropped after the lock, as every waker here.
            drop(state);
            drop(own);
            return Poll::Ready(Some(job));
        }
        if state.ending {
            state.drainers -= 1;
            self.ended = true;
            return Poll::Ready(None);
        }
        // Polled again while parked (a spurious wake-up): registered once, with the
        // waker of this poll.
        let id = self.id;
        match state.parked.iter_mut().find(|(parked, _)| *parked == id) {
            Some((_, waker)) if waker.will_wake(cx.waker()) => {}
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => state.parked.push((id, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        // Dropped before it ended: its runtime is shutting down (tokio drops tasks only
        // then), or it unwound. Its waker goes, so that no push wakes it instead of
        // spawning. The last drainer takes the queued jobs with it, dropped outside the
        // lock (their drops send reports and wake waiters); while others remain, one of
        // them is woken to take them.
        let (jobs, wake, own) = {
            let mut state = self.batch.state.lock();
            state.drainers -= 1;
            let own = unpark(&mut state, self.id);
            let (jobs, wake) = if state.drainers == 0 {
                (std::mem::take(&mut state.jobs), None)
            } else if state.jobs.is_empty() {
                (VecDeque::new(), None)
            } else {
                (VecDeque::new(), state.parked.pop().map(|(_, waker)| waker))
            };
            (jobs, wake, own)
        };
        drop(own);
        drop(jobs);
        if let Some(waker) = wake {
            waker.wake();
        }
    }
}

/// Takes drainer `id` out of the parked list, if it is there; its waker is the caller's
/// to drop once the lock is released.
fn unpark(state: &mut State, id: u64) -> Option<Waker> {
    let at = state.parked.iter().position(|(parked, _)| *parked == id)?;
    Some(state.parked.swap_remove(at).1)
}

/// A drainer: polls each queued job once, spawns those still pending, parks on an
/// empty queue, ends on the empty queue of an ending batch.
async fn drain(mut lease: Lease) {
    loop {
        for _ in 0..FAIRNESS_BUDGET {
            // Taken and started in one poll: the job is never held across an await (in
            // the drainer's future), which would add moves of the whole value.
            let went_on = poll_fn(|cx| match lease.poll_next(cx) {
                Poll::Ready(Some(job)) => {
                    start(job, cx);
                    Poll::Ready(true)
                }
                Poll::Ready(None) => Poll::Ready(false),
                Poll::Pending => Poll::Pending,
            })
            .await;
            if !went_on {
                return;
            }
        }
        tokio::task::yield_now().await;
    }
}

/// Starts `job` in the drainer's frame; what is left of it still running becomes a task
/// of its own, polled again there with that task's waker (so a wake-up sent to the
/// drainer for it is only a spurious one).
fn start(job: Job, cx: &mut Context<'_>) {
    match catch_unwind(AssertUnwindSafe(|| job.start_here(cx))) {
        Ok(None) => {}
        Ok(Some(rest)) => drop(tokio::spawn(rest)),
        // Handler panics are caught inside the emission; this is a bug of ventus. The
        // job is dropped, which reports it.
        Err(panic) => tracing::error!(
            panic = crate::handler::panic_message(&*panic),
            "ventus caught a panic while running a scheduled emission"
        ),
    }
}

/// A loom model of the park and wake-up protocol between a batch's pushes and its
/// drainers: the state under one lock (queue, drainer count, parked drainers, ending
/// flag); pushes from the batch's one thread, each waking a parked drainer or spawning
/// one (up to two); drainers that park only after finding the queue empty under that
/// lock; and the thread letting go of the batch (making it ending) after its pushes, after
/// which every drainer must run what is left and end. A waker is modelled by loom's
/// `Notify`, whose permit stands for tokio's "woken while running: poll again". A lost
/// wake-up leaves a drainer waiting forever, which loom reports. Run by `.ci/run` with
/// `--cfg ventus_loom`.
#[cfg(all(test, ventus_loom))]
mod loom_tests {
    use std::collections::VecDeque;

    use loom::sync::{Arc, Mutex, Notify};
    use loom::thread;

    /// `Batch::max_drainers` of the model.
    const MAX_DRAINERS: usize = 2;

    #[derive(Default)]
    struct State {
        jobs: VecDeque<usize>,
        drainers: usize,
        /// The parked drainers, by index into `Model::wakers`.
        parked: Vec<usize>,
        ending: bool,
    }

    #[derive(Default)]
    struct Model {
        state: Mutex<State>,
        /// Each drainer's waker.
        wakers: [Notify; MAX_DRAINERS],
        /// The jobs in the order the drainers ran them.
        ran: Mutex<Vec<usize>>,
        /// The drainer threads spawned.
        drainers: Mutex<Vec<thread::JoinHandle<()>>>,
    }

    enum Start {
        Queued,
        Wake(usize),
        Spawn(usize),
    }

    fn push(m: &Arc<Model>, job: usize) {
        let start = {
            let mut state = m.state.lock().unwrap();
            state.jobs.push_back(job);
            if let Some(drainer) = state.parked.pop() {
                Start::Wake(drainer)
            } else if state.drainers < MAX_DRAINERS {
                state.drainers += 1;
                Start::Spawn(m.drainers.lock().unwrap().len())
            } else {
                Start::Queued
            }
        };
        match start {
            Start::Queued => {}
            Start::Wake(drainer) => m.wakers[drainer].notify(),
            Start::Spawn(me) => {
                let model = m.clone();
                let handle = thread::spawn(move || drain(&model, me));
                m.drainers.lock().unwrap().push(handle);
            }
        }
    }

    /// `Home::drop`.
    fn let_go(m: &Model) {
        let parked = {
            let mut state = m.state.lock().unwrap();
            state.ending = true;
            std::mem::take(&mut state.parked)
        };
        for drainer in parked {
            m.wakers[drainer].notify();
        }
    }

    fn drain(m: &Model, me: usize) {
        loop {
            let job = {
                let mut state = m.state.lock().unwrap();
                match state.jobs.pop_front() {
                    Some(job) => {
                        // `Lease::poll_next`: a drainer that takes a job no longer waits.
                        state.parked.retain(|&d| d != me);
                        Some(job)
                    }
                    None if state.ending => {
                        state.drainers -= 1;
                        return;
                    }
                    None => {
                        if !state.parked.contains(&me) {
                            state.parked.push(me);
                        }
                        None
                    }
                }
            };
            match job {
                Some(job) => m.ran.lock().unwrap().push(job),
                None => m.wakers[me].wait(),
            }
        }
    }

    #[test]
    fn every_pushed_job_runs_and_the_drainers_end_once_the_batch_is_let_go() {
        // Bounded, as loom advises: every interleaving with up to three preemptions
        // (two drainers and three jobs are too many to explore whole).
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
            let m = Arc::new(Model::default());
            for job in 0..3 {
                push(&m, job);
            }
            let_go(&m);
            let drainers = std::mem::take(&mut *m.drainers.lock().unwrap());
            assert!(!drainers.is_empty(), "the first push spawned a drainer");
            for drainer in drainers {
                drainer.join().unwrap();
            }
            let mut ran = m.ran.lock().unwrap().clone();
            ran.sort_unstable();
            assert_eq!(ran, [0, 1, 2]);
            assert_eq!(m.state.lock().unwrap().drainers, 0);
        });
    }
}
