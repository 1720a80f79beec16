//! The seed's processor: sync context runs to completion, async context schedules.
//!
//! # Invariants
//!
//! - `drain.tasks` counts the emissions scheduled by this processor that have not
//!   finished or been dropped; each holds one guard of it, taken before `emit` returns.
//!   Scheduled emissions run on their thread's drainer tasks (`batch`), or in a task of
//!   their own when scheduled from a sync-context emission's scope or once they wait.
//! - A sync-context emission that needs a runtime runs inside a [`SYNC_SCOPE`]; emissions
//!   scheduled from its handlers join that scope, and the sync `emit` returns only when
//!   the scope is empty, as `asyncio.run` waits for the tasks scheduled on its loop.
//!
//! # Deadlock safety
//!
//! The runtime pool's lock is held only to push or pop a runtime, never while an
//! emission runs. The thread-local runtime slot is borrowed only to take or put back
//! its runtime, never across a `block_on`.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;
use tokio::runtime::{Handle, Runtime};

use std::time::Duration;

use crate::emission::drain::{Drain, InFlight};
use crate::emission::scope::{current_scope, Driving, DrivingGuard, FirstPass, SYNC_SCOPE};
use crate::emission::Cancel;
use crate::emission::{Emission, Emitted};
use crate::handler::BoxError;

use super::batch;
use super::{ProcessError, Processor, ShutdownReport};

/// Runs emissions the way Pyventus's `AsyncIOEventEmitter` does; see
/// [`TokioEventEmitter`](crate::TokioEventEmitter).
///
/// # Examples
///
/// ```
/// use ventus::{EventEmitter, EventLinker, TokioProcessor};
///
/// let emitter = EventEmitter::builder()
///     .linker(&EventLinker::builder().build().unwrap())
///     .processor(TokioProcessor::new())
///     .build();
/// assert_eq!(emitter.processor().in_flight(), 0);
/// ```
pub struct TokioProcessor {
    /// Scheduled emissions: in flight, ended, and the token that cancels them.
    drain: Arc<Drain>,
}

impl TokioProcessor {
    /// A new processor with nothing in flight.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, TokioProcessor};
    ///
    /// let processor = TokioProcessor::new();
    /// assert_eq!(processor.in_flight(), 0);
    /// let emitter = EventEmitter::builder().processor(processor).build();
    /// assert!(!emitter.is_closed());
    /// ```
    pub fn new() -> Self {
        Self {
            drain: Arc::new(Drain::default()),
        }
    }

    /// How many scheduled emissions have not finished.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| async {})?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    ///
    /// emitter.emit("Job")?; // scheduled, not yet run
    /// assert_eq!(emitter.processor().in_flight(), 1);
    /// emitter.wait_for_tasks().await;
    /// assert_eq!(emitter.processor().in_flight(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn in_flight(&self) -> usize {
        self.drain.tasks.count()
    }

    fn spawn(&self, handle: &Handle, emission: Emission<'_>) -> Emitted {
        // Counted in flight until just before its report is published.
        let (emission, emitted) = emission.track_in(&self.drain);
        match current_scope() {
            // Scheduled from a sync-context emission: that `emit` waits for this one too.
            Some(scope) => {
                let scope_guard = scope.guard();
                handle.spawn(SYNC_SCOPE.scope(scope, async move {
                    emission.run().await;
                    drop(scope_guard);
                }));
            }
            // No task per emission, no future built before it starts: queued as it is
            // for this thread's drainers (see `batch`).
            None => batch::schedule(handle, emission),
        }
        emitted
    }

    fn run_sync(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
        let emission = match emission.try_run_inline() {
            Ok(emitted) => return Ok(emitted),
            Err(emission) => emission,
        };
        self.block_local(emission.run_report())
    }

    /// Runs `future` to its end on this thread's runtime, inside a fresh sync scope: a
    /// sync-context emission that needs a runtime.
    fn block_local<F: Future>(&self, future: F) -> Result<F::Output, ProcessError> {
        let Local {
            runtime,
            scope,
            metrics,
            driving,
        } = Local::take().map_err(ProcessError::Failed)?;
        let mut future = pin!(future);
        // First pass outside `block_on`, in the runtime's context and the emission's
        // scope: handlers start (and may spawn, time out, schedule emissions) as they
        // would inside it. If every handler finished and nothing was scheduled, that was
        // the whole emission, without the cost of entering the scheduler; otherwise
        // `block_on` drives the rest, polling the future again with its own waker, so the
        // wakers left with the no-op one here are replaced.
        // Named before the first pass: a handler may hand work to a blocking thread in
        // it, and that thread may emit before `block_on` starts.
        let mut driving_guard = DrivingGuard::enter(&driving);
        let (first, scope) = {
            let _entered = runtime.enter();
            let mut cx = Context::from_waker(Waker::noop());
            let pass = FirstPass::enter(scope);
            let first = future.as_mut().poll(&mut cx);
            // Always `Some`: only this exit takes the scope back out.
            (first, pass.exit().unwrap_or_default())
        };
        let out = match first {
            Poll::Ready(out) if scope.count() == 0 => out,
            first => {
                driving_guard.on_this_thread();
                runtime.block_on(SYNC_SCOPE.scope(scope.clone(), async {
                    let out = match first {
                        Poll::Ready(out) => out,
                        Poll::Pending => future.await,
                    };
                    scope.wait().await;
                    out
                }))
            }
        };
        drop(driving_guard);
        if metrics.num_alive_tasks() == 0 {
            Local::give_back(Local {
                runtime,
                scope,
                metrics,
                driving,
            });
        } else {
            // Handlers spawned tasks of their own and left them running. As when asyncio
            // closes the loop `asyncio.run` made, they are cancelled: shutting the runtime
            // down drops them. Reusing it would leave them stalled until some later
            // emission. In the background: a detached `spawn_blocking` closure still
            // running must not hold this `emit` until it returns.
            runtime.shutdown_background();
        }
        Ok(out)
    }
}

impl Processor for TokioProcessor {
    fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
        match Handle::try_current() {
            Ok(handle) => Ok(self.spawn(&handle, emission)),
            Err(_) => self.run_sync(emission),
        }
    }

    /// `true` on a thread with no tokio runtime: a sync context.
    #[inline]
    fn runs_inline(&self) -> bool {
        Handle::try_current().is_err()
    }

    /// Drives `poll` as a sync-context emission that needs a runtime: on this thread's
    /// cached current-thread runtime, waiting for what its handlers schedule.
    fn drive_inline(
        &self,
        poll: &mut dyn FnMut(&mut Context<'_>) -> Poll<()>,
    ) -> Result<bool, ProcessError> {
        self.block_local(std::future::poll_fn(poll)).map(|()| true)
    }

    fn wait_for_tasks(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.drain.tasks.wait())
    }

    fn in_flight(&self) -> usize {
        TokioProcessor::in_flight(self)
    }

    /// Waits for the emissions in flight until `timeout`, then cancels the rest.
    /// The timeout needs the runtime's time driver; without it, nothing is cancelled
    /// and the shutdown waits for every emission.
    fn shutdown(
        &self,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = ShutdownReport> + Send + '_>> {
        Box::pin(self.drain.shutdown(timeout))
    }
}

impl Default for TokioProcessor {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TokioProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokioProcessor")
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

/// A current-thread runtime for sync-context emissions, with the scope its emissions
/// wait on; reused while nothing else holds the scope.
struct Local {
    runtime: Runtime,
    scope: Arc<InFlight>,
    /// Which emission drives `runtime`; shared with its blocking threads.
    driving: Arc<Driving>,
    /// The runtime's metrics, made once: `Runtime::metrics` clones the runtime's handle
    /// (two locked instructions) on every call.
    metrics: tokio::runtime::RuntimeMetrics,
}

/// This thread's idle [`Local`], if any: `None` while one of this thread's sync-context
/// emissions uses it, and before the first.
struct LocalSlot(Option<Local>);

impl Drop for LocalSlot {
    fn drop(&mut self) {
        // The thread is ending: another thread may use the runtime (tokio allows dropping
        // a runtime during thread-local destruction, should the pool be full).
        if let Some(local) = self.0.take() {
            RUNTIMES.give_back(Pooled {
                runtime: local.runtime,
                driving: local.driving,
            });
        }
    }
}

thread_local! {
    /// Taken and given back by each sync-context emission on this thread: no lock, and
    /// no scope allocation, on that path. A nested take (none can happen today: inside
    /// the runtime `emit` schedules instead) falls back to the shared pool.
    static LOCAL: RefCell<LocalSlot> = const { RefCell::new(LocalSlot(None)) };
}

impl Local {
    fn take() -> Result<Self, BoxError> {
        // `try_with`: during thread-local destruction the slot may be gone already.
        let cached = LOCAL
            .try_with(|slot| slot.borrow_mut().0.take())
            .ok()
            .flatten();
        match cached {
            Some(local) => Ok(local),
            None => {
                let Pooled { runtime, driving } = RUNTIMES.take()?;
                let scope = Arc::new(InFlight::default());
                driving.publish(&scope);
                Ok(Self {
                    metrics: runtime.metrics(),
                    runtime,
                    scope,
                    driving,
                })
            }
        }
    }

    fn give_back(mut self) {
        // A scope still shared (a `blocking` handler's thread holds a clone) is not
        // reused: a late entry into it must not hold up the next emission.
        if Arc::strong_count(&self.scope) != 1 {
            self.scope = Arc::new(InFlight::default());
            self.driving.publish(&self.scope);
        }
        let mut local = Some(self);
        let _ = LOCAL.try_with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.0.is_none() {
                slot.0 = local.take();
            }
        });
        // Taken from the pool during a nested emission, or the slot is gone: back to the
        // pool, outside the slot's borrow (dropping a runtime runs destructors).
        if let Some(local) = local {
            RUNTIMES.give_back(Pooled {
                runtime: local.runtime,
                driving: local.driving,
            });
        }
    }
}

/// A runtime of ventus's own (of the pool below, or a thread-pool worker's), with the
/// slot its blocking threads read to find the emission driving it.
pub(crate) struct Pooled {
    runtime: Runtime,
    driving: Arc<Driving>,
}

impl Pooled {
    /// A new current-thread runtime with every driver, whose blocking threads (named
    /// `thread_name`, if given) know its [`Driving`] slot.
    pub(crate) fn build(thread_name: Option<&str>) -> std::io::Result<Self> {
        // The runtime's id is known only once it is built; its blocking threads start
        // later, when a handler first spawns one, and read the slot through this cell.
        let cell: Arc<OnceLock<Arc<Driving>>> = Arc::new(OnceLock::new());
        let on_start = cell.clone();
        let mut builder = tokio::runtime::Builder::new_current_thread();
        builder.enable_all().on_thread_start(move || {
            let driving = on_start.get().cloned();
            Driving::set_for_thread(driving);
        });
        if let Some(name) = thread_name {
            builder.thread_name(name);
        }
        let runtime = builder.build()?;
        let driving = Arc::new(Driving::new(runtime.handle().id()));
        let _ = cell.set(driving.clone());
        Ok(Pooled { runtime, driving })
    }

    /// The runtime.
    #[cfg(feature = "thread-pool")]
    pub(crate) fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Shuts the runtime down without waiting for its blocking threads.
    #[cfg(feature = "thread-pool")]
    pub(crate) fn shutdown_background(self) {
        self.runtime.shutdown_background();
    }

    /// Drives `future` to its end inside `scope`, then the emissions that joined `scope`
    /// meanwhile, as `block_local` drives a sync-context emission: those scheduled from
    /// `future`'s task, from tasks spawned on this runtime and from its blocking threads.
    /// For a thread-pool worker, whose handlers see its runtime entered and schedule
    /// their `TokioEventEmitter` emissions there.
    ///
    /// The wait for the emissions that joined stops when one of `stop` is cancelled (the
    /// pool closed with nothing left to run, or a shutdown's deadline): the worker then
    /// shuts the runtime down, which cancels what is left and reports it.
    #[cfg(feature = "thread-pool")]
    pub(crate) fn block_on_scoped<F: Future>(
        &self,
        scope: &Arc<InFlight>,
        stop: [&Cancel; 2],
        future: F,
    ) -> F::Output {
        self.driving.publish(scope);
        let mut driving = DrivingGuard::enter(&self.driving);
        driving.on_this_thread();
        self.runtime
            .block_on(SYNC_SCOPE.scope(scope.clone(), async {
                let out = future.await;
                let stopped = async {
                    loop {
                        // Made before the flags are tested, so a cancel in between wakes it.
                        let (a, b) = (stop[0].notified(), stop[1].notified());
                        if stop.iter().any(|s| s.is_cancelled()) {
                            return;
                        }
                        tokio::select! {
                            () = a => {}
                            () = b => {}
                        }
                    }
                };
                tokio::select! {
                    () = scope.wait() => {}
                    () = stopped => {}
                }
                out
            }))
    }
}

/// Current-thread runtimes for sync-context emissions that need one; kept between
/// calls because building a runtime costs far more than an emission.
struct RuntimePool {
    idle: Mutex<Vec<Pooled>>,
}

/// The most idle runtimes kept.
const POOL_LIMIT: usize = 8;

static RUNTIMES: RuntimePool = RuntimePool {
    idle: Mutex::new(Vec::new()),
};

impl RuntimePool {
    fn take(&self) -> Result<Pooled, BoxError> {
        let idle = self.idle.lock().pop();
        match idle {
            Some(pooled) => Ok(pooled),
            None => Self::build(),
        }
    }

    /// A new runtime whose blocking threads know its [`Driving`] slot.
    fn build() -> Result<Pooled, BoxError> {
        Pooled::build(None).map_err(|err| {
            format!("could not start a tokio runtime for a sync-context emission: {err}").into()
        })
    }

    fn give_back(&self, pooled: Pooled) {
        let mut idle = self.idle.lock();
        if idle.len() < POOL_LIMIT {
            idle.push(pooled);
            return;
        }
        drop(idle);
        // Dropped outside the lock: shutting a runtime down runs task destructors.
        drop(pooled);
    }
}
