//! What an emitter shares with its clones and its emissions: its settings, its bound
//! and its counters.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::metrics::Metrics;

/// Settings and state an emitter shares with its clones and its emissions.
pub(crate) struct EmitterShared {
    /// Log each emission at debug level. Set once at build.
    pub(crate) debug: bool,
    /// The timeout of handlers without their own. Set once at build.
    pub(crate) timeout: Option<Duration>,
    /// Record each handler's outcome and duration in reports. Set once at build.
    pub(crate) detailed: bool,
    /// The `max_in_flight` bound and what to do when it is reached. Set once at build.
    pub(crate) limit: Option<Limit>,
    /// Set by `shutdown`; emissions are refused from then on.
    pub(crate) closed: AtomicBool,
    /// Counters for `metrics`.
    pub(crate) metrics: Metrics,
    /// Sees each handler start and end. Set once at build.
    pub(crate) hook: Option<super::hook::Hook>,
    /// Sees each emission before its handlers and may drop it. Set once at build.
    pub(crate) filter: Option<super::filter::Filter>,
    /// The queue of an emitter built with `submission_order(true)`. Set once at build.
    pub(crate) order: Option<Arc<super::order::Sequencer>>,
    /// None of `debug`, `timeout`, `detailed`, `limit`, `hook`, `filter` and `order` is set, so an
    /// emission may take the lean path if its handlers allow it. Set once at build.
    pub(crate) lean: bool,
}

pub(crate) struct Limit {
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) max: usize,
    pub(crate) overflow: Overflow,
}

impl Limit {
    /// Tells this bound apart from others on the `HOLDING` stack.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.permits) as usize
    }

    /// Waits for a place, blocking this thread (which must not be a runtime's: it would
    /// block the tasks that free places); `None` if the bound was closed meanwhile.
    pub(crate) fn acquire_blocking(&self) -> Option<OwnedSemaphorePermit> {
        /// Wakes the blocked thread.
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
            fn wake_by_ref(self: &Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        // The semaphore's future needs no runtime: it is woken by the release.
        let mut acquire = pin!(self.permits.clone().acquire_owned());
        loop {
            match acquire.as_mut().poll(&mut cx) {
                Poll::Ready(permit) => return permit.ok(),
                // A spurious unpark only polls again.
                Poll::Pending => std::thread::park(),
            }
        }
    }
}

thread_local! {
    /// The bounds (by [`Limit::id`]) whose places this thread holds while it runs an
    /// emission: a sync handler that emits again must not wait for its own place.
    ///
    /// Pushed by the emission itself while its handlers run on this thread (each pass of
    /// `Emission::try_run_inline`, each poll of `Emission::run`), so whichever processor
    /// drives it, on whichever thread, the marker is where the handlers are.
    pub(crate) static HOLDING: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Marks a bound as held by this thread until dropped; `true` if it was recorded.
pub(crate) struct Holding(bool);

impl Holding {
    /// Marks `limit`'s place as held by this thread. During thread-local destruction
    /// nothing is recorded; `acquire` then never blocks (see there).
    pub(crate) fn enter(limit: &Limit) -> Self {
        let id = limit.id();
        let recorded = HOLDING.try_with(|held| held.borrow_mut().push(id)).is_ok();
        Holding(recorded)
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        if self.0 {
            let _ = HOLDING.try_with(|held| held.borrow_mut().pop());
        }
    }
}

/// What `emit` does when an emitter's `max_in_flight` bound is reached.
///
/// [`EventEmitter::reserve`](crate::EventEmitter::reserve) always waits for room, whatever the policy.
///
/// # Examples
///
/// ```
/// use ventus::{EmitError, EventEmitter, EventLinker, Overflow};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("Job").subscribe(|n: u32| async move { n })?;
/// let emitter = EventEmitter::builder().linker(&linker).max_in_flight(1, Overflow::Reject).build();
///
/// let first = emitter.emit_with("Job", 1_u32)?; // scheduled, not yet run
/// match emitter.emit_with("Job", 2_u32) {
///     Err(EmitError::Full(rejected)) => assert_eq!(rejected.into_payload::<u32>(), Some(2)),
///     other => panic!("expected a full emitter, got {other:?}"),
/// }
/// assert_eq!(first.await.counts().succeeded, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Refuse the emission with [`EmitError::Full`](crate::EmitError::Full), handing the payload back.
    Reject,
    /// Wait for room. A sync caller (no runtime on its thread) blocks until an emission
    /// ends; a caller inside a runtime cannot block it, so `emit` refuses as with
    /// `Reject` and async code waits with [`EventEmitter::reserve`](crate::EventEmitter::reserve). A handler that emits
    /// on the emitter running it is refused too rather than wait for a place its own
    /// emission holds.
    Wait,
}
