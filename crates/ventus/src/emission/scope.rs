//! Which sync-context emission an emission is made inside of.
//!
//! A sync-context emission that needs a runtime runs inside a *scope* (an [`InFlight`]
//! count): emissions scheduled while its handlers run join that scope, and the sync
//! `emit` returns only once the scope is empty, as `asyncio.run` waits for the tasks
//! scheduled on its loop. The scope is found, in this order, in the current task
//! ([`SYNC_SCOPE`]), in the thread's first pass (the poll made before `block_on`), and in
//! the *driving* slot of the ventus-owned runtime the thread belongs to (for blocking
//! threads and tasks that handlers started). Processors that drive sync-context
//! emissions set these up; the emission machine only reads them (a `blocking` handler
//! carries its scope to its thread).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::runtime::Handle;

use super::drain::InFlight;

tokio::task_local! {
    /// The sync-context emission whose runtime this task (or blocking handler) runs on.
    pub(crate) static SYNC_SCOPE: Arc<InFlight>;
}

/// Runs `f` (a `blocking` handler, on another thread) inside the sync-context scope that
/// `scope` captured, so emissions it schedules are waited for like any other.
pub(crate) fn in_scope<R>(scope: Option<SyncScope>, f: impl FnOnce() -> R) -> R {
    match scope {
        Some(SyncScope(scope)) => SYNC_SCOPE.sync_scope(scope, f),
        None => f(),
    }
}

thread_local! {
    /// The scope of the sync-context emission whose first pass runs on this thread,
    /// outside any task (see `block_local`): moved in and out rather than cloned into
    /// the task-local, which would cost two locked instructions per emission.
    static FIRST_PASS: RefCell<Option<Arc<InFlight>>> = const { RefCell::new(None) };
}

/// The sync-context scope the current task (or first pass) runs inside, if any.
pub(crate) fn current_scope() -> Option<Arc<InFlight>> {
    SYNC_SCOPE.try_with(Arc::clone).ok().or_else(|| {
        FIRST_PASS
            .try_with(|scope| scope.borrow().clone())
            .ok()
            .flatten()
            .or_else(runtime_scope)
    })
}

/// Which sync-context emission drives one of ventus's own runtimes, for emissions
/// scheduled on that runtime from outside the emission's task (a `spawn_blocking`
/// closure a handler awaits, a task a handler spawned): they join the emission's scope
/// and are waited for, instead of being left on a runtime that nobody drives once the
/// emission ends.
pub(crate) struct Driving {
    /// The runtime this slot belongs to.
    runtime: tokio::runtime::Id,
    /// Set while a sync-context emission drives the runtime (its first pass included).
    active: AtomicBool,
    /// Guarded: the scope of the emissions that drive the runtime; changed only when the
    /// runtime's [`Local`] changes scope, so an emission pays two stores, not a lock.
    /// Weak: the [`Local`] owns the scope, and tells by its count whether it is shared.
    scope: Mutex<Weak<InFlight>>,
}

impl Driving {
    /// The slot of the runtime `runtime`, driven by no emission yet.
    pub(crate) fn new(runtime: tokio::runtime::Id) -> Self {
        Self {
            runtime,
            active: AtomicBool::new(false),
            scope: Mutex::new(Weak::new()),
        }
    }

    /// Makes `driving` the slot of the calling thread (a thread of its runtime).
    pub(crate) fn set_for_thread(driving: Option<Arc<Driving>>) {
        let _ = DRIVING.try_with(|slot| *slot.borrow_mut() = driving);
    }

    pub(crate) fn publish(&self, scope: &Arc<InFlight>) {
        *self.scope.lock() = Arc::downgrade(scope);
    }

    /// The scope of the emission driving the runtime now, if one is.
    fn current(&self) -> Option<Arc<InFlight>> {
        // Acquire: pairs with the Release store of `enter`, after the scope was published.
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.scope.lock().upgrade()
    }
}

thread_local! {
    /// The [`Driving`] slot of the ventus runtime this thread belongs to: set for good on
    /// that runtime's blocking threads (`on_thread_start`), and on the thread that drives
    /// it while `block_local` is in `block_on`.
    static DRIVING: RefCell<Option<Arc<Driving>>> = const { RefCell::new(None) };
}

/// Whether `handle`'s runtime is one of ventus's own (a sync-context or thread-pool
/// runtime) and this thread belongs to it: its blocking threads, or the thread driving
/// it. Such a runtime tells whether it is idle by counting its tasks, so nothing of
/// ventus may linger on it.
pub(crate) fn on_ventus_runtime(handle: &Handle) -> bool {
    DRIVING
        .try_with(|slot| {
            slot.borrow()
                .as_ref()
                .is_some_and(|driving| driving.runtime == handle.id())
        })
        .unwrap_or(false)
}

/// The scope of the sync-context emission driving the ventus runtime this thread is in,
/// if it is in one.
#[cold]
fn runtime_scope() -> Option<Arc<InFlight>> {
    let slot = DRIVING
        .try_with(|slot| slot.borrow().clone())
        .ok()
        .flatten()?;
    let current = Handle::try_current().ok()?;
    if current.id() != slot.runtime {
        return None;
    }
    slot.current()
}

/// A sync-context emission drives `driving`'s runtime until dropped.
pub(crate) struct DrivingGuard<'a> {
    driving: &'a Arc<Driving>,
    /// This thread's slot before it entered `block_on`, put back on drop.
    previous: Option<Option<Arc<Driving>>>,
}

impl<'a> DrivingGuard<'a> {
    pub(crate) fn enter(driving: &'a Arc<Driving>) -> Self {
        // Release: a thread that sees the flag sees the scope published before it.
        driving.active.store(true, Ordering::Release);
        Self {
            driving,
            previous: None,
        }
    }

    /// This thread drives the runtime from now on (it enters `block_on`): the tasks it
    /// runs find the slot too.
    pub(crate) fn on_this_thread(&mut self) {
        if self.previous.is_none() {
            self.previous = DRIVING
                .try_with(|slot| slot.replace(Some(self.driving.clone())))
                .ok();
        }
    }
}

impl Drop for DrivingGuard<'_> {
    fn drop(&mut self) {
        // Release: pairs with `current`'s Acquire load.
        self.driving.active.store(false, Ordering::Release);
        if let Some(previous) = self.previous.take() {
            let _ = DRIVING.try_with(|slot| slot.replace(previous));
        }
    }
}

/// `scope` installed as this thread's first-pass scope until [`exit`](Self::exit)
/// takes it back (or the guard drops, if the pass unwinds).
pub(crate) struct FirstPass {
    /// The slot's previous value, once `scope` is in the slot.
    previous: Option<Option<Arc<InFlight>>>,
    /// `scope` itself when the slot is gone (thread-local destruction): the pass then
    /// runs outside it, and handlers see no scope, as in a task without one.
    kept: Option<Arc<InFlight>>,
}

impl FirstPass {
    pub(crate) fn enter(scope: Arc<InFlight>) -> Self {
        let mut kept = Some(scope);
        let previous = FIRST_PASS.try_with(|slot| slot.replace(kept.take())).ok();
        Self { previous, kept }
    }

    pub(crate) fn exit(mut self) -> Option<Arc<InFlight>> {
        if let Some(kept) = self.kept.take() {
            return Some(kept);
        }
        let previous = self.previous.take().flatten();
        FIRST_PASS
            .try_with(|slot| slot.replace(previous))
            .ok()
            .flatten()
    }
}

impl Drop for FirstPass {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            let _ = FIRST_PASS.try_with(|slot| slot.replace(previous));
        }
    }
}

/// The sync-context scope of the current task, if it runs inside one.
pub(crate) struct SyncScope(Arc<InFlight>);

impl SyncScope {
    pub(crate) fn current() -> Option<Self> {
        current_scope().map(SyncScope)
    }
}
