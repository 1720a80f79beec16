//! A subscriber: one handler with its options, and how its user values are dropped.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::time::Duration;

use super::claim::ClaimState;
use crate::event::{EventType, SubscriptionId};
use crate::handler::{drop_caught, ErasedHandler, FailureCallback};

/// One linked handler with its options.
pub(crate) struct Subscriber {
    pub(crate) id: SubscriptionId,
    pub(crate) state: ClaimState,
    pub(crate) once: bool,
    pub(crate) blocking: bool,
    /// Longer than this and the handler takes the failure path.
    pub(crate) timeout: Option<Duration>,
    pub(crate) handler: ErasedHandler,
    pub(crate) on_failure: Option<Arc<FailureCallback>>,
    /// The typed event it was subscribed to with `on_event`, if any.
    pub(crate) event_type: Option<EventType>,
    /// Set with [`SubscribeBuilder::priority`](super::SubscribeBuilder::priority).
    pub(crate) priority: i32,
}

/// The key handlers start by: higher priority first, then subscription order (lower id
/// first). One integer, so that merging two lists costs one comparison per step: the
/// high half is the priority mapped, order reversed, onto `u64`, the low half the id.
pub(crate) fn start_order(priority: i32, id: SubscriptionId) -> u128 {
    // `priority ^ i32::MIN` as `u32` keeps the order of `i32`s; `!` reverses it.
    let rank = !((priority as u32) ^ 0x8000_0000);
    (u128::from(rank) << 64) | u128::from(id.0)
}

impl Subscriber {
    /// Where its handler starts among an emission's handlers: [`start_order`] of its
    /// priority and id. Every subscriber list is sorted by it. Worked out when asked
    /// rather than stored: a subscription stays as small as it was without priorities.
    #[inline]
    pub(crate) fn order(&self) -> u128 {
        start_order(self.priority, self.id)
    }
    /// Runs on the caller's thread without a runtime: sync and not `blocking`.
    pub(crate) fn is_inline(&self) -> bool {
        !self.blocking && !self.handler.is_async()
    }

    /// Needs the payload shared (`Arc`) rather than borrowed.
    pub(crate) fn needs_shared(&self) -> bool {
        self.blocking || self.handler.wants_any_event
    }
}

thread_local! {
    /// How many registry locks this thread is inside.
    static LOCK_DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Handlers whose drop was deferred until this thread leaves the registry lock.
    static DEFERRED: RefCell<Vec<Deferred>> = const { RefCell::new(Vec::new()) };
}

type Deferred = (ErasedHandler, Option<Arc<FailureCallback>>);

impl Drop for Subscriber {
    fn drop(&mut self) {
        // The last reference may go anywhere: in a registry call, or when `papaya`
        // reclaims an old snapshot inside some later call. The user values go out here,
        // each drop caught, so a panicking `Drop` never fails that call.
        let handler = std::mem::replace(&mut self.handler, ErasedHandler::noop());
        let mut values = Some((handler, self.on_failure.take()));
        // Under the registry lock, the drop waits until the lock is released. Thread-local
        // destruction gets `try_with` errors here: the values are then dropped at once.
        if LOCK_DEPTH.try_with(Cell::get).is_ok_and(|depth| depth > 0) {
            let _ = DEFERRED.try_with(|d| {
                if let Some(values) = values.take() {
                    d.borrow_mut().push(values);
                }
            });
        }
        if let Some(values) = values {
            drop_caught("a removed handler", values);
        }
    }
}

/// Whether this thread is inside a registry lock (of any linker) right now.
pub(crate) fn inside_lock() -> bool {
    LOCK_DEPTH.try_with(Cell::get).is_ok_and(|depth| depth > 0)
}

/// Marks this thread as inside the registry lock; on drop, runs the deferred drops.
pub(crate) struct DeferDrops;

impl DeferDrops {
    pub(crate) fn enter() -> Self {
        // `LOCK_DEPTH` has no destructor, so it outlives thread-local destruction.
        let _ = LOCK_DEPTH.try_with(|d| d.set(d.get() + 1));
        DeferDrops
    }
}

impl Drop for DeferDrops {
    fn drop(&mut self) {
        let depth = LOCK_DEPTH.try_with(|d| {
            let depth = d.get().saturating_sub(1);
            d.set(depth);
            depth
        });
        if depth == Ok(0) {
            // Taken out first: the drops below may subscribe again and defer more. Each
            // is caught, so the call that took the lock returns its own result.
            let deferred = DEFERRED
                .try_with(|d| std::mem::take(&mut *d.borrow_mut()))
                .unwrap_or_default();
            for values in deferred {
                drop_caught("a removed handler", values);
            }
        }
    }
}
