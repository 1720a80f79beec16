//! A cancellation flag that costs nothing until someone waits for it.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A cancellation signal that costs no lock until someone waits for it: a flag, and a
/// `Notify` for the emissions that are waiting (tokio-util's `CancellationToken` takes a
/// mutex to create, clone, test and drop, which an emission that never waits should not
/// pay).
#[derive(Default)]
pub(crate) struct Cancel {
    /// Set once, by `cancel`.
    flag: AtomicBool,
    /// Woken (`notify_waiters`) after `flag` is set.
    notify: Notify,
}

impl Cancel {
    /// Sets the flag and wakes the waiters; `false` if it was set already.
    pub(crate) fn cancel(&self) -> bool {
        // AcqRel: a waiter that sees the flag sees what happened before the cancel.
        if self.flag.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.notify.notify_waiters();
        true
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// A wait for the flag; it completes on a `cancel` made after this call, so test the
    /// flag after making it (`notify_waiters` wakes every `Notified` made before it).
    pub(crate) fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}
