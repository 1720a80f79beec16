//! The seed's processor: sync context runs to completion, async context schedules.
//!
//! # Invariants
//!
//! - `InFlight::count` is the number of emissions spawned by this processor that have
//!   not finished or been dropped; each holds one [`InFlightGuard`].
//! - A sync-context emission that needs a runtime runs inside a [`SYNC_SCOPE`]; emissions
//!   scheduled from its handlers join that scope, and the sync `emit` returns only when
//!   the scope is empty, as `asyncio.run` waits for the tasks scheduled on its loop.
//!
//! # Deadlock safety
//!
//! The runtime pool's lock is held only to push or pop a runtime, never while an
//! emission runs.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::Notify;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::emitter::{Emission, Emitted};
use crate::handler::BoxError;

use super::{ProcessError, Processor, ShutdownReport};

tokio::task_local! {
    /// The sync-context emission whose runtime this task (or blocking handler) runs on.
    static SYNC_SCOPE: Arc<InFlight>;
}

/// Runs `f` (a `blocking` handler, on another thread) inside the sync-context scope that
/// `scope` captured, so emissions it schedules are waited for like any other.
pub(crate) fn in_scope<R>(scope: Option<SyncScope>, f: impl FnOnce() -> R) -> R {
    match scope {
        Some(SyncScope(scope)) => SYNC_SCOPE.sync_scope(scope, f),
        None => f(),
    }
}

/// The sync-context scope of the current task, if it runs inside one.
pub(crate) struct SyncScope(Arc<InFlight>);

impl SyncScope {
    pub(crate) fn current() -> Option<Self> {
        SYNC_SCOPE.try_with(|scope| SyncScope(scope.clone())).ok()
    }
}

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
    tasks: Arc<InFlight>,
    /// Parent of every scheduled emission's cancellation token; cancelled at a
    /// shutdown's deadline.
    cancel_all: CancellationToken,
    /// Scheduled emissions that ended, and those of them that were cancelled.
    ended: Arc<Ended>,
}

#[derive(Default)]
struct Ended {
    finished: AtomicUsize,
    cancelled: AtomicUsize,
}

impl TokioProcessor {
    /// A new processor with nothing in flight.
    pub fn new() -> Self {
        Self {
            tasks: Arc::new(InFlight::default()),
            cancel_all: CancellationToken::new(),
            ended: Arc::new(Ended::default()),
        }
    }

    /// How many scheduled emissions have not finished.
    pub fn in_flight(&self) -> usize {
        self.tasks.count.load(Ordering::Acquire)
    }

    fn spawn(&self, handle: &Handle, emission: Emission<'_>) -> Emitted {
        let (emission, emitted) = emission.track(Some(&self.cancel_all));
        let token = emission.cancellation().cloned();
        let ended = self.ended.clone();
        let guard = self.tasks.enter();
        let task = async move {
            emission.run().await;
            // Relaxed: statistics for the shutdown report, read after `wait` returned.
            let counter = match token {
                Some(token) if token.is_cancelled() => &ended.cancelled,
                _ => &ended.finished,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            drop(guard);
        };
        match SYNC_SCOPE.try_with(Arc::clone) {
            // Scheduled from a sync-context emission: that `emit` waits for this one too.
            Ok(scope) => {
                let scope_guard = scope.enter();
                handle.spawn(SYNC_SCOPE.scope(scope, async move {
                    task.await;
                    drop(scope_guard);
                }));
            }
            Err(_) => {
                handle.spawn(task);
            }
        }
        emitted
    }

    fn run_sync(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
        let emission = match emission.try_run_inline() {
            Ok(emitted) => return Ok(emitted),
            Err(emission) => emission,
        };
        let runtime = RUNTIMES.take().map_err(ProcessError::Failed)?;
        let scope = Arc::new(InFlight::default());
        let emitted = runtime.block_on(SYNC_SCOPE.scope(scope.clone(), async {
            let emitted = emission.run_report().await;
            scope.wait().await;
            emitted
        }));
        if runtime.metrics().num_alive_tasks() == 0 {
            RUNTIMES.give_back(runtime);
        } else {
            // Handlers spawned tasks of their own and left them running. As when asyncio
            // closes the loop `asyncio.run` made, they are cancelled: dropping the runtime
            // drops them. Reusing it would leave them stalled until some later emission.
            drop(runtime);
        }
        Ok(emitted)
    }
}

impl Processor for TokioProcessor {
    fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
        match Handle::try_current() {
            Ok(handle) => Ok(self.spawn(&handle, emission)),
            Err(_) => self.run_sync(emission),
        }
    }

    fn wait_for_tasks(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.tasks.wait())
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
        Box::pin(async move {
            // Relaxed: plain counters, compared before and after the waits below.
            let finished = self.ended.finished.load(Ordering::Relaxed);
            let cancelled = self.ended.cancelled.load(Ordering::Relaxed);
            let in_time =
                match std::panic::catch_unwind(|| tokio::time::timeout(timeout, self.tasks.wait()))
                {
                    Ok(wait) => wait.await.is_ok(),
                    Err(_) => {
                        tracing::warn!(
                            "ventus shutdown without a time driver: waiting for every emission"
                        );
                        self.tasks.wait().await;
                        true
                    }
                };
            if !in_time {
                self.cancel_all.cancel();
                self.tasks.wait().await;
            }
            ShutdownReport {
                finished: self.ended.finished.load(Ordering::Relaxed) - finished,
                cancelled: self.ended.cancelled.load(Ordering::Relaxed) - cancelled,
            }
        })
    }
}

/// Runs `future` to completion on a pooled current-thread runtime; for sync callers
/// (no runtime on this thread) that must wait for something async.
pub(crate) fn block_on_pooled<F: Future>(future: F) -> Result<F::Output, BoxError> {
    let runtime = RUNTIMES.take()?;
    let output = runtime.block_on(future);
    RUNTIMES.give_back(runtime);
    Ok(output)
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

/// Counts emissions in flight and wakes waiters when none is left.
#[derive(Default)]
struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

struct InFlightGuard(Arc<InFlight>);

impl InFlight {
    fn enter(self: &Arc<Self>) -> InFlightGuard {
        // AcqRel pairs with the decrement in `drop`, so `wait` never sees a stale zero
        // for an emission that was registered before it started waiting.
        self.count.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self.clone())
    }

    async fn wait(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            // Registered before the check, so a decrement to zero between the check and
            // the await still wakes this waiter.
            notified.as_mut().enable();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        // Runs when the emission finishes or is dropped (runtime shutdown): either way it
        // is no longer in flight.
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Current-thread runtimes for sync-context emissions that need one; kept between
/// calls because building a runtime costs far more than an emission.
struct RuntimePool {
    idle: Mutex<Vec<Runtime>>,
}

/// The most idle runtimes kept.
const POOL_LIMIT: usize = 8;

static RUNTIMES: RuntimePool = RuntimePool {
    idle: Mutex::new(Vec::new()),
};

impl RuntimePool {
    fn take(&self) -> Result<Runtime, BoxError> {
        let idle = self.idle.lock().pop();
        match idle {
            Some(runtime) => Ok(runtime),
            None => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|err| {
                    format!("could not start a tokio runtime for a sync-context emission: {err}")
                        .into()
                }),
        }
    }

    fn give_back(&self, runtime: Runtime) {
        let mut idle = self.idle.lock();
        if idle.len() < POOL_LIMIT {
            idle.push(runtime);
            return;
        }
        drop(idle);
        // Dropped outside the lock: shutting a runtime down runs task destructors.
        drop(runtime);
    }
}
