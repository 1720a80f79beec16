//! The thread-pool processor, after Pyventus's `ExecutorEventEmitter`: emissions run on
//! a pool of worker threads.
//!
//! [`process`](Processor::process) queues the emission and returns its handle at once.
//! One of the pool's workers takes it from the queue (first in, first out) and runs it:
//! an emission whose handlers are all sync runs on the worker directly, any other on the
//! worker's own current-thread tokio runtime, so async handlers, `blocking` handlers and
//! timeouts work there as anywhere else.
//!
//! # Invariants
//!
//! - `State::queue` holds the emissions accepted and not yet taken by a worker. Once
//!   `State::closed` is set nothing is pushed any more, and a worker exits only when the
//!   queue is closed *and* empty: every accepted emission is run, and its handle gets a
//!   report (all handlers cancelled if its token was cancelled before it started).
//! - `Shared::drain.tasks` counts the emissions accepted and not finished. An emission
//!   is counted before it is pushed (so a shutdown that closes the queue has every
//!   accepted emission counted; one refused because the queue closed leaves the count
//!   again, not counted as finished or cancelled), and it leaves the count itself, after
//!   its outcome was counted in `Shared::drain` and before its report is published
//!   (`Emission::finish`; if it is dropped unfinished, its guards do the same).
//! - `State::live` is the number of workers that have not exited. A worker decrements it
//!   as its very last act (after its runtime is gone), by a guard, so also if it unwinds.
//!
//! # Deadlock safety
//!
//! - The state lock is held only to push, pop, close and count. No emission runs, no
//!   thread is joined and no waiter is woken while it is held: the condvars are notified
//!   after the guard is dropped, and a refused emission is dropped after it too (dropping
//!   one can release a `max_in_flight` permit, which wakes tasks).
//! - The `workers` lock is held only to take the join handles out; the joins happen after
//!   it is released. The two locks are never held together.
//! - Waiting for the workers to exit ([`ThreadPoolProcessor::shutdown`] with `wait`, and
//!   dropping the processor) is skipped on the pool's own worker threads, where it would
//!   wait for itself. Emitting from a handler only pushes to the queue and never waits.
//! - A sync handler cannot be interrupted: a shutdown waits for the sync handlers that
//!   are running to return. A deadline shutdown cancels async handlers and queued
//!   emissions; a handler that never returns keeps its worker (and a waiting shutdown)
//!   forever, as in Python's executor.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, JoinHandle, Thread};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::tokio::Pooled;
use super::{ProcessError, Processor, ShutdownReport};
use crate::emission::drain::{Drain, InFlight};
use crate::emission::{is_worker_of, set_worker_of, Cancel, Emission, Emitted};

/// Runs emissions on a pool of worker threads, as Pyventus's `ExecutorEventEmitter`
/// does; the processor of [`ThreadPoolEventEmitter`](crate::ThreadPoolEventEmitter).
///
/// - `emit` queues the emission and returns its [`Emitted`] handle at once, from a sync
///   or an async context alike; wait on the handle for the report.
/// - Each worker takes emissions from the shared queue in the order they were emitted
///   and runs one at a time: an emission whose handlers are all sync runs on the worker
///   directly; any other runs on the worker's own current-thread tokio runtime (built
///   when first needed, with every driver enabled), so async handlers, `blocking`
///   handlers and timeouts work. Emissions its handlers make on a
///   [`TokioEventEmitter`](crate::TokioEventEmitter) are scheduled on that runtime (it is
///   the one they run in) and the worker drives them to their end before it takes its
///   next emission, as a sync-context `emit` waits for what its handlers schedule. Tasks
///   a handler spawns on that runtime itself and leaves running are cancelled when its
///   emission ends, as `asyncio.run` cancels what is left on its loop.
/// - [`shutdown(wait)`](Self::shutdown) refuses new emissions; those already accepted
///   are never lost: the workers run the whole queue before they exit. Dropping the
///   processor (when the last emitter that holds it is dropped) shuts it down and waits
///   for the workers.
/// - [`EventEmitter::shutdown`](crate::EventEmitter::shutdown) (the async
///   [`Processor::shutdown`]) gives emissions in flight until a deadline and then
///   cancels the rest; queued emissions not started by then count as cancelled.
///
/// # Examples
///
/// ```
/// use ventus::{EventEmitter, EventLinker, ThreadPoolProcessor};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("Job").subscribe(|| std::thread::current().name().map(str::to_owned))?;
///
/// let emitter = EventEmitter::builder()
///     .linker(&linker)
///     .processor(ThreadPoolProcessor::new(2))
///     .build();
/// let report = emitter.emit("Job")?.wait().unwrap(); // runs on a worker
/// assert_eq!(report.counts().succeeded, 1);
/// emitter.processor().shutdown(true);
/// assert!(emitter.emit("Job").is_err());
/// # Ok(())
/// # }
/// ```
#[doc(alias = "ExecutorEventEmitter")]
pub struct ThreadPoolProcessor {
    /// What the workers share with the processor.
    shared: Arc<Shared>,
    /// Join handles of the workers started; taken out (under this lock) by the first
    /// caller that joins them, and joined after the lock is released.
    workers: Mutex<Vec<JoinHandle<()>>>,
    /// How many workers were started. Set once at build.
    threads: usize,
    /// Why the first worker could not be started, when none could. Set once at build.
    spawn_error: Option<String>,
}

/// The state the workers share with their processor.
struct Shared {
    /// Identifies the pool to its workers' `WORKER_OF`. Set once at build.
    id: u64,
    /// The queue and the pool's lifecycle; see [`State`].
    state: Mutex<State>,
    /// Wakes workers waiting for an emission or for the close; paired with `state`.
    available: Condvar,
    /// Wakes threads waiting for the workers to exit; paired with `state`.
    exited: Condvar,
    /// Emissions accepted and not finished, how they ended, and the token that cancels
    /// them at a shutdown's deadline; each accepted emission holds a count of it.
    drain: Arc<Drain>,
    /// Set once the pool is closed and its queue is empty: a worker still waiting for
    /// the emissions its handlers scheduled on its runtime stops waiting, and its
    /// runtime's shutdown cancels them (and reports them), as a runtime's shutdown does.
    drained: Cancel,
}

/// Guarded by `Shared::state`.
struct State {
    /// Emissions accepted and not yet taken by a worker, oldest first.
    queue: VecDeque<Emission<'static>>,
    /// Set by a shutdown; from then on nothing is pushed.
    closed: bool,
    /// Workers that have not exited.
    live: usize,
}

impl ThreadPoolProcessor {
    /// A pool of `threads` worker threads (clamped to
    /// `1..=`[`ThreadPoolBuilder::MAX_THREADS`]), named `ventus-worker-0`,
    /// `ventus-worker-1`, …
    ///
    /// If the operating system refuses to start some of them, the error is logged with
    /// `tracing` and the pool runs with those it started ([`threads`](Self::threads));
    /// if it could start none, `emit` returns
    /// [`EmitError::Processor`](crate::EmitError::Processor).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = ventus::ThreadPoolProcessor::new(4);
    /// assert_eq!(pool.threads(), 4);
    /// ```
    pub fn new(threads: usize) -> Self {
        Self::builder().threads(threads).build()
    }

    /// A builder for a pool with a chosen size and thread name.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = ventus::ThreadPoolProcessor::builder()
    ///     .threads(2)
    ///     .thread_name("mail-sender")
    ///     .build();
    /// assert_eq!(pool.threads(), 2);
    /// ```
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder {
            threads: thread::available_parallelism()
                .map_or(1, NonZeroUsize::get)
                .min(ThreadPoolBuilder::MAX_THREADS),
            thread_name: String::from("ventus-worker"),
        }
    }

    /// How many worker threads the pool started.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ventus::ThreadPoolProcessor::new(0).threads(), 1); // at least one
    /// ```
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// How many emissions were accepted and have not finished (queued or running).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = ventus::ThreadPoolProcessor::new(1);
    /// assert_eq!(pool.in_flight(), 0);
    /// ```
    pub fn in_flight(&self) -> usize {
        // Acquire (inside `count`): pairs with the worker's decrement.
        self.shared.drain.tasks.count()
    }

    /// Whether [`shutdown`](Self::shutdown) (or the emitter's async shutdown) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = ventus::ThreadPoolProcessor::new(1);
    /// pool.shutdown(false);
    /// assert!(pool.is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        self.shared.state.lock().closed
    }

    /// Shuts the pool down, as Python's `Executor.shutdown(wait)`: new emissions are
    /// refused from now on (`emit` returns [`EmitError::Closed`](crate::EmitError::Closed)),
    /// and emissions already accepted are never lost: the workers run every queued one
    /// before they exit.
    ///
    /// With `wait`, returns once every worker has exited, so every emission accepted
    /// before the call has finished. Without it, returns at once; wait on the handles
    /// `emit` returned for their reports. Calling it again is harmless.
    ///
    /// Called from one of the pool's own workers (from a handler), it never waits: a
    /// worker cannot wait for itself to exit.
    ///
    /// This shadows [`Processor::shutdown`] for method calls on a `ThreadPoolProcessor`;
    /// the deadline shutdown is reached through
    /// [`EventEmitter::shutdown`](crate::EventEmitter::shutdown).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let ran = Arc::new(AtomicUsize::new(0));
    /// let counter = ran.clone();
    /// linker.on("Job").subscribe(move || counter.fetch_add(1, Ordering::SeqCst))?;
    ///
    /// let emitter = ventus::ThreadPoolEventEmitter::with_linker(&linker, 2);
    /// for _ in 0..10 {
    ///     emitter.emit("Job")?;
    /// }
    /// emitter.processor().shutdown(true); // runs the queue, then joins the workers
    /// assert_eq!(ran.load(Ordering::SeqCst), 10);
    /// # Ok(())
    /// # }
    /// ```
    pub fn shutdown(&self, wait: bool) {
        self.shared.close();
        if wait && !self.on_worker_thread() {
            self.join();
        }
    }

    /// Whether this thread is one of this pool's workers.
    fn on_worker_thread(&self) -> bool {
        // If the thread-local is gone (the thread is exiting), say yes: not waiting is
        // the side that cannot deadlock.
        is_worker_of(self.shared.id)
    }

    /// Waits for every worker to exit, then reaps the threads.
    fn join(&self) {
        let wait = || {
            let mut state = self.shared.state.lock();
            while state.live > 0 {
                self.shared.exited.wait(&mut state);
            }
            drop(state);
            let handles = std::mem::take(&mut *self.workers.lock());
            for handle in handles {
                // A worker catches the panics of what it runs; if it panicked anyway,
                // it has exited, which is all this waits for.
                let _ = handle.join();
            }
        };
        // Blocking a multi-thread runtime's worker would stall its other tasks; hand
        // them to another thread first, as `Emitted::wait` does.
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            _ => wait(),
        }
    }
}

impl Processor for ThreadPoolProcessor {
    fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
        if let Some(err) = &self.spawn_error {
            return Err(ProcessError::Failed(
                format!("the thread pool has no worker thread: {err}").into(),
            ));
        }
        // Counted in flight from here (see the invariants).
        let (emission, emitted) = emission.track_in(&self.shared.drain);
        let refused = {
            let mut state = self.shared.state.lock();
            if state.closed {
                Some(emission)
            } else {
                state.queue.push_back(emission);
                None
            }
        };
        match refused {
            // Dropped after the lock is released: it may give back a permit.
            Some(emission) => {
                emission.refused();
                Err(ProcessError::Closed)
            }
            None => {
                self.shared.available.notify_one();
                Ok(emitted)
            }
        }
    }

    fn wait_for_tasks(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.shared.drain.tasks.wait())
    }

    fn in_flight(&self) -> usize {
        ThreadPoolProcessor::in_flight(self)
    }

    fn is_closed(&self) -> bool {
        self.is_shutdown()
    }

    /// Closes the queue, waits for the emissions in flight (queued or running) until
    /// `timeout`, then cancels the rest: async handlers that have not finished are
    /// cancelled, queued emissions are reported with every handler cancelled, and sync
    /// handlers that are running are waited for (they cannot be interrupted). The
    /// timeout needs the runtime's time driver; without it, nothing is cancelled and the
    /// shutdown waits for every emission. The workers exit once the queue is empty;
    /// dropping the processor reaps them.
    fn shutdown(
        &self,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = ShutdownReport> + Send + '_>> {
        Box::pin(async move {
            self.shared.close();
            self.shared.drain.shutdown(timeout).await
        })
    }
}

impl Default for ThreadPoolProcessor {
    /// A pool with one worker per CPU ([`std::thread::available_parallelism`]).
    fn default() -> Self {
        Self::builder().build()
    }
}

impl Drop for ThreadPoolProcessor {
    /// Shuts the pool down and waits for the workers, as `shutdown(true)`; dropped on
    /// one of its own workers, it does not wait (the workers still run the queue).
    fn drop(&mut self) {
        self.shutdown(true);
    }
}

impl fmt::Debug for ThreadPoolProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolProcessor")
            .field("threads", &self.threads)
            .field("in_flight", &self.in_flight())
            .field("shutdown", &self.is_shutdown())
            .finish()
    }
}

/// Settings of a new [`ThreadPoolProcessor`]; made by [`ThreadPoolProcessor::builder`].
///
/// # Examples
///
/// ```
/// use ventus::{EventEmitter, EventLinker, ThreadPoolProcessor};
///
/// let emitter = EventEmitter::builder()
///     .linker(&EventLinker::builder().build().unwrap())
///     .processor(ThreadPoolProcessor::builder().threads(3).thread_name("io").build())
///     .build();
/// assert_eq!(emitter.processor().threads(), 3);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ThreadPoolBuilder {
    threads: usize,
    thread_name: String,
}

impl ThreadPoolBuilder {
    /// The most worker threads a pool starts; [`threads`](Self::threads) clamps larger
    /// requests to it (far more than a pool of emissions can use, and few enough that
    /// asking for `usize::MAX` neither panics nor exhausts the system).
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{ThreadPoolBuilder, ThreadPoolProcessor};
    ///
    /// let builder = ThreadPoolProcessor::builder().threads(usize::MAX);
    /// let clamped = format!("threads: {}", ThreadPoolBuilder::MAX_THREADS);
    /// assert!(format!("{builder:?}").contains(&clamped));
    /// ```
    pub const MAX_THREADS: usize = 1024;

    /// How many worker threads to start, clamped to `1..=`[`MAX_THREADS`](Self::MAX_THREADS);
    /// one per CPU if not set.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = ventus::ThreadPoolProcessor::builder().threads(2).build();
    /// assert_eq!(pool.threads(), 2);
    /// ```
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.clamp(1, Self::MAX_THREADS);
        self
    }

    /// The workers' names are this, a dash and their index (`ventus-worker-0`, … by
    /// default). Nul characters, which thread names cannot hold, are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Who").subscribe(|| assert_eq!(std::thread::current().name(), Some("io-0")))?;
    /// let emitter = ventus::EventEmitter::builder()
    ///     .linker(&linker)
    ///     .processor(ventus::ThreadPoolProcessor::builder().threads(1).thread_name("io").build())
    ///     .build();
    /// assert_eq!(emitter.emit("Who")?.wait().unwrap().counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        let mut name = name.into();
        name.retain(|c| c != '\0');
        self.thread_name = name;
        self
    }

    /// Starts the workers and makes the processor.
    ///
    /// Never panics: workers the operating system refuses to start are logged with
    /// `tracing` and left out (see [`ThreadPoolProcessor::new`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = ventus::ThreadPoolProcessor::builder().threads(1).build();
    /// assert_eq!(pool.threads(), 1);
    /// ```
    pub fn build(self) -> ThreadPoolProcessor {
        static NEXT_POOL: AtomicU64 = AtomicU64::new(1);
        // Relaxed: only uniqueness matters, and fetch_add gives it.
        let id = NEXT_POOL.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            id,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                closed: false,
                live: self.threads,
            }),
            available: Condvar::new(),
            exited: Condvar::new(),
            drain: Arc::new(Drain::on_pool(id)),
            drained: Cancel::default(),
        });
        let mut workers = Vec::with_capacity(self.threads);
        let mut spawn_error = None;
        for index in 0..self.threads {
            let name = format!("{}-{index}", self.thread_name);
            let worker = shared.clone();
            let runtime_name = format!("{name}-blocking");
            match thread::Builder::new()
                .name(name)
                .spawn(move || work(worker, runtime_name))
            {
                Ok(handle) => workers.push(handle),
                Err(err) => {
                    tracing::error!(
                        error = %err, index,
                        "ventus could not start a thread-pool worker; the pool runs without it"
                    );
                    // It will never run, so it is not live.
                    shared.state.lock().live -= 1;
                    spawn_error.get_or_insert_with(|| err.to_string());
                }
            }
        }
        ThreadPoolProcessor {
            shared,
            threads: workers.len(),
            spawn_error: spawn_error.filter(|_| workers.is_empty()),
            workers: Mutex::new(workers),
        }
    }
}

impl Shared {
    /// Refuses new emissions and tells idle workers to exit once the queue is empty.
    fn close(&self) {
        let (was_closed, empty) = {
            let mut state = self.state.lock();
            (
                std::mem::replace(&mut state.closed, true),
                state.queue.is_empty(),
            )
        };
        if !was_closed {
            self.available.notify_all();
        }
        if empty {
            self.drained.cancel();
        }
    }

    /// The next queued emission, waiting for one; `None` once the queue is closed and
    /// empty.
    fn next(&self) -> Option<Emission<'static>> {
        let mut state = self.state.lock();
        loop {
            if let Some(emission) = state.queue.pop_front() {
                return Some(emission);
            }
            if state.closed {
                drop(state);
                // Woken outside the lock: nothing is left to run.
                self.drained.cancel();
                return None;
            }
            self.available.wait(&mut state);
        }
    }

    /// Runs one emission on this worker. The emission counts its own end (finished or
    /// cancelled) and leaves the in-flight count just before its report is published,
    /// also if it is dropped by an unwind.
    fn run(&self, emission: Emission<'static>, worker: &mut Worker) {
        let id = emission.id();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| {
            drive(emission, worker, &self.drained, &self.drain.cancel_all)
        })) {
            // Handler panics are caught inside the emission; this is ventus's own bug.
            tracing::error!(
                emission = id.as_u64(),
                panic = crate::handler::panic_message(&*panic),
                "ventus thread-pool worker caught a panic while running an emission"
            );
            if let Some(runtime) = worker.runtime.take() {
                runtime.shutdown_background();
            }
        }
    }
}

/// A worker: runs queued emissions until the queue is closed and empty.
fn work(shared: Arc<Shared>, runtime_name: String) {
    // Declared first, so dropped last: after the runtime, also when unwinding.
    let _live = Live(&shared);
    set_worker_of(shared.id);
    let mut worker = Worker {
        runtime: None,
        scope: Arc::default(),
        name: runtime_name,
    };
    while let Some(emission) = shared.next() {
        shared.run(emission, &mut worker);
    }
    if let Some(runtime) = worker.runtime {
        // Not a plain drop, which would wait for `blocking` handlers still running
        // after their emission was cancelled.
        runtime.shutdown_background();
    }
}

/// What a worker keeps between emissions.
struct Worker {
    /// The worker's current-thread runtime, built when an emission first needs one; a
    /// runtime of ventus's own, so what is scheduled on it while an emission runs joins
    /// `scope` (see `Pooled::block_on_scoped`).
    runtime: Option<Pooled>,
    /// The scope that emissions scheduled on `runtime` by handlers join (a
    /// `TokioEventEmitter` emitting there sees the runtime entered), waited for before
    /// the worker takes its next emission; reused while nothing else holds it.
    scope: Arc<InFlight>,
    /// The runtime's thread name.
    name: String,
}

/// Marks its worker exited when dropped.
struct Live<'a>(&'a Shared);

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.0.state.lock().live -= 1;
        // Woken after the lock is released (at the end of the statement above).
        self.0.exited.notify_all();
    }
}

/// Runs `emission` to its end on this thread, and with it the emissions its handlers
/// scheduled on the worker's runtime.
fn drive(emission: Emission<'static>, worker: &mut Worker, drained: &Cancel, deadline: &Cancel) {
    if emission.is_cancelled() {
        // Cancelled before it started (a shutdown's deadline, or `Emitted::cancel`):
        // its run reports every handler cancelled at its first poll, with no runtime.
        block_on_parked(emission.run());
        return;
    }
    let emission = match emission.try_run_inline() {
        Ok(_) => return,
        Err(emission) => emission,
    };
    let rt = match &mut worker.runtime {
        Some(rt) => rt,
        None => match Pooled::build(Some(&worker.name)) {
            Ok(rt) => worker.runtime.insert(rt),
            Err(err) => {
                tracing::error!(
                    error = %err, emission = emission.id().as_u64(),
                    "ventus thread-pool worker could not start a tokio runtime; \
                     the emission's handlers are cancelled"
                );
                if let Some(token) = emission.cancellation() {
                    token.cancel();
                }
                block_on_parked(emission.run());
                return;
            }
        },
    };
    // The runtime is entered while handlers run, so a `TokioEventEmitter` they emit on
    // schedules here (from the handler, a task it spawned or a blocking thread); those
    // emissions join the scope and are driven to their end before this worker moves on,
    // as a sync-context `emit` waits for them. Left undriven, they would stall until a
    // later emission, or be dropped with the runtime.
    let scope = worker.scope.clone();
    rt.block_on_scoped(&scope, [drained, deadline], emission.run());
    // Still shared (a `blocking` handler's thread holds it): a late entry must not hold
    // up the next emission.
    if Arc::strong_count(&scope) > 2 {
        worker.scope = Arc::default();
    }
    drop(scope);
    if rt.runtime().metrics().num_alive_tasks() > 0 {
        // Handlers left tasks running. As when `asyncio.run` closes its loop, they are
        // cancelled; kept, they would stall until some later emission polled them. In
        // the background, so `blocking` tasks are not waited for.
        if let Some(rt) = worker.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Drives `future` on this thread, parking between polls: enough for a cancelled
/// emission, which needs no runtime.
fn block_on_parked<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}
