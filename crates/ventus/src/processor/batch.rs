//! Scheduling without a spawn per emission.
//!
//! An emission scheduled in an async context is queued as it is, an owned [`Emission`]
//! (a *job*), with no future built for it. Jobs scheduled from one thread onto one
//! runtime go into that thread's [`Batch`], which *drainer* tasks empty: a drainer
//! starts each job in its own task ([`Emission::start_here`]: sync handlers to their
//! end, async ones polled once); a job whose handlers all finish then is done, and what
//! is left of one still running is spawned as a task of its own (which polls it again
//! with its own waker), so a slow emission never holds up the others. A drainer yields to the runtime after
//! [`FAIRNESS_BUDGET`] jobs, and a batch runs up to one drainer per worker thread, so
//! emissions keep the parallelism that a task per emission would have had.
//!
//! # Invariants
//!
//! - `State::drainers` counts the drainer tasks spawned for a batch that have not ended;
//!   it changes only under the state's lock, together with the queue. A drainer ends only
//!   after it found the queue empty under that lock (and decremented the count there), so
//!   a push that sees a drainer counted knows a drainer will take its job.
//! - A drainer dropped before it ended (its runtime shut down: tokio drops tasks only
//!   then) takes the queue with it: the jobs are dropped, which releases their in-flight
//!   guards and sends their handles a report, as a dropped task would.
//!
//! # Deadlock safety
//!
//! One lock per batch, held only to push or pop jobs and to count drainers; never while
//! a job runs, a task is spawned, or a job is dropped.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::Poll;

use parking_lot::Mutex;
use tokio::runtime::Handle;

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
    /// Drainer tasks spawned and not ended.
    drainers: usize,
}

thread_local! {
    /// This thread's batch for the runtime it last scheduled on.
    static BATCH: RefCell<Option<Arc<Batch>>> = const { RefCell::new(None) };
}

/// Schedules `job` on `handle`'s runtime, through this thread's batch.
pub(crate) fn schedule(handle: &Handle, job: Job) {
    let mut job = Some(job);
    // The batch is used through the thread-local slot's reference: no reference count
    // changes per emission, only when a drainer is spawned.
    let spawn = BATCH.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        let id = handle.id();
        let batch = match &mut *slot {
            Some(batch) if batch.runtime == id => batch,
            slot => {
                // A new runtime on this thread: the old batch's drainers finish its jobs
                // (without drainers, its queue is empty, so dropping it here runs no
                // user code).
                slot.insert(Arc::new(Batch {
                    runtime: id,
                    max_drainers: handle.metrics().num_workers().max(1),
                    state: Mutex::new(State {
                        jobs: VecDeque::new(),
                        drainers: 0,
                    }),
                }))
            }
        };
        let job = job.take().unwrap_or_else(|| unreachable!("taken once"));
        batch.push(job).then(|| batch.clone())
    });
    match spawn {
        Ok(None) => {}
        // Spawned outside the slot's borrow: on a runtime that is shutting down, `spawn`
        // drops the drainer at once, and with it the queued jobs, whose drops may run
        // user code that schedules again.
        Ok(Some(batch)) => {
            let lease = Lease {
                batch,
                ended: false,
            };
            drop(handle.spawn(drain(lease)));
        }
        // The thread is ending and its batch is gone: a task of its own.
        Err(_) => {
            if let Some(job) = job {
                drop(handle.spawn(job.run()));
            }
        }
    }
}

impl Batch {
    /// Queues `job`; `true` if the caller must spawn a drainer, already counted.
    fn push(&self, job: Job) -> bool {
        let mut state = self.state.lock();
        state.jobs.push_back(job);
        // Up to one drainer per worker: a drainer busy with a long first poll (a sync
        // handler that blocks) must not hold up the jobs behind it while another worker
        // could run them, as it would with a task per emission.
        if state.drainers < self.max_drainers {
            state.drainers += 1;
            true
        } else {
            false
        }
    }
}

/// A drainer's place in its batch's count.
struct Lease {
    batch: Arc<Batch>,
    /// Set when the drainer left the count after finding the queue empty.
    ended: bool,
}

impl Lease {
    /// The next job, or `None` after leaving the count on an empty queue.
    fn next(&mut self) -> Option<Job> {
        let mut state = self.batch.state.lock();
        let job = state.jobs.pop_front();
        if job.is_none() {
            state.drainers -= 1;
            self.ended = true;
        }
        job
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        // Dropped before it ended: the runtime is shutting down. The queued jobs go with
        // it, dropped outside the lock (their drops send reports and wake waiters).
        let jobs = {
            let mut state = self.batch.state.lock();
            state.drainers -= 1;
            std::mem::take(&mut state.jobs)
        };
        drop(jobs);
    }
}

/// A drainer: polls each queued job once, spawns those still pending, ends on an empty
/// queue.
async fn drain(mut lease: Lease) {
    loop {
        for _ in 0..FAIRNESS_BUDGET {
            let Some(job) = lease.next() else {
                return;
            };
            let mut job = Some(job);
            poll_fn(|cx| {
                if let Some(job) = job.take() {
                    match catch_unwind(AssertUnwindSafe(|| job.start_here(cx))) {
                        Ok(None) => {}
                        // Its own task from now on; polled again there, with that
                        // task's waker, so a wake-up sent to this drainer is only a
                        // spurious one.
                        Ok(Some(rest)) => drop(tokio::spawn(rest)),
                        // Handler panics are caught inside the emission; this is a bug
                        // of ventus. The job is dropped, which reports it.
                        Err(panic) => tracing::error!(
                            panic = crate::handler::panic_message(&*panic),
                            "ventus caught a panic while running a scheduled emission"
                        ),
                    }
                }
                Poll::Ready(())
            })
            .await;
        }
        tokio::task::yield_now().await;
    }
}
