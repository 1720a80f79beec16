//! The futures of [`EventLinker::next`](super::EventLinker::next) still waiting, and the
//! open streams of [`EventLinker::stream`](super::EventLinker::stream), so that removing
//! their subscription wakes them.
//!
//! A waiter is a plain subscription whose handler fills a slot. When something else ends
//! that subscription (`remove`, `remove_event`, `remove_all`, or `unsubscribe` of the
//! handle listed by `subscribers()`), no emission will ever fill the slot; the waiter is
//! told here, so its future resolves with `NextError::Removed` (and its stream ends)
//! instead of pending forever.
//! Nothing on the emit path reads this: it is touched by `next` itself and by removals,
//! and by an unsubscribe only when some waiter is registered.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::subscribe::Subscription;
use crate::event::SubscriptionId;

/// Unsubscribes a waiter's subscription, which its linker then forgets.
pub(crate) fn end(subscription: Subscription) {
    subscription.linker.inner.waiters.forget(subscription.id());
    subscription.unsubscribe();
}

/// A waiting future's slot, as the linker sees it.
pub(crate) trait Waiter: Send + Sync {
    /// Its subscription may have been removed: resolve if it was, and wake the future.
    fn check_removed(&self);
}

/// The registered waiters of one linker.
#[derive(Default)]
pub(crate) struct Waiters {
    /// How many are registered: lets an unsubscribe skip the lock when none is.
    count: AtomicUsize,
    map: Mutex<HashMap<SubscriptionId, Weak<dyn Waiter>>>,
}

impl Waiters {
    /// Registers the waiter of subscription `id`.
    pub(crate) fn add(&self, id: SubscriptionId, waiter: Weak<dyn Waiter>) {
        let mut map = self.map.lock();
        map.insert(id, waiter);
        self.count.store(map.len(), Ordering::Release);
    }

    /// Forgets the waiter of subscription `id` (it resolved, or its future was dropped).
    pub(crate) fn forget(&self, id: SubscriptionId) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut map = self.map.lock();
        let gone = map.remove(&id);
        self.count.store(map.len(), Ordering::Release);
        drop(map);
        // A `Weak` runs no user code when dropped, but keep drops out of the lock anyway.
        drop(gone);
    }

    /// Subscription `id` was ended by someone else than its waiter.
    pub(crate) fn removed(&self, id: SubscriptionId) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let waiter = self.map.lock().get(&id).and_then(Weak::upgrade);
        if let Some(waiter) = waiter {
            waiter.check_removed();
        }
    }

    /// Some subscriptions may have been removed: every waiter checks its own.
    pub(crate) fn sweep(&self) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let waiters: Vec<Arc<dyn Waiter>> =
            self.map.lock().values().filter_map(Weak::upgrade).collect();
        for waiter in waiters {
            waiter.check_removed();
        }
    }
}
