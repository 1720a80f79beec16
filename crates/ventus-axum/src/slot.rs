//! The per-request slot: emissions held with a request until its response is produced.
//!
//! [`VentusLayer`](crate::VentusLayer) puts one [`Slot`] in each request's extensions and
//! keeps a share of it in the response future; every
//! [`BackgroundEmitter`](crate::BackgroundEmitter) extracted from the request pushes into
//! it. The response future *seals* it exactly once — when the inner service's future
//! resolves, or when that future is dropped first — and takes what was held. A push
//! after the seal is refused, so no emission can be left behind in a slot nobody reads.

use http::{Method, Uri};
use parking_lot::Mutex;

/// What a request's emissions (`T`: [`Pending`](crate::background::Pending)) share with
/// its response future.
pub(crate) struct Slot<T> {
    /// The request's method, for the logs.
    pub(crate) method: Method,
    /// The request's URI (its path is logged), as the layer saw it.
    pub(crate) uri: Uri,
    /// The emissions held so far, until sealed. Guarded by the lock; no user code runs
    /// under it and nothing is awaited while it is held.
    held: Mutex<Held<T>>,
}

impl<T> Slot<T> {
    pub(crate) fn new(method: Method, uri: Uri) -> Self {
        Self {
            method,
            uri,
            held: Mutex::new(Held::Open(None, Vec::new())),
        }
    }

    /// Holds `pending`, or hands it back if the slot was sealed.
    pub(crate) fn push(&self, pending: T) -> Result<(), T> {
        match &mut *self.held.lock() {
            Held::Open(first @ None, _) => *first = Some(pending),
            Held::Open(Some(_), rest) => rest.push(pending),
            Held::Sealed => return Err(pending),
        }
        Ok(())
    }

    /// Seals the slot and takes what it held, in the order it was held; nothing if it
    /// was sealed already.
    pub(crate) fn seal(&self) -> impl Iterator<Item = T> {
        let held = std::mem::replace(&mut *self.held.lock(), Held::Sealed);
        let (first, rest) = match held {
            Held::Open(first, rest) => (first, rest),
            Held::Sealed => (None, Vec::new()),
        };
        first.into_iter().chain(rest)
    }

    pub(crate) fn path(&self) -> &str {
        self.uri.path()
    }
}

/// What a slot holds.
enum Held<T> {
    /// Taking emissions: the first (most requests hold at most one, and then no `Vec`
    /// is allocated) and the others.
    Open(Option<T>, Vec<T>),
    /// The response future resolved or was dropped.
    Sealed,
}

/// The share of the slot that goes into the request's extensions.
pub(crate) struct SlotHandle<T>(pub(crate) std::sync::Arc<Slot<T>>);

impl<T> Clone for SlotHandle<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}
