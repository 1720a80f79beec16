//! The per-request slot: emissions held with a request until its response is produced.
//!
//! [`VentusLayer`](crate::VentusLayer) puts one [`Slot`] in each request's extensions and
//! keeps a share of it in the response future; every
//! [`BackgroundEmitter`](crate::BackgroundEmitter) extracted from the request pushes into
//! it. The response future *seals* it exactly once — when the inner service's future
//! resolves, or when that future is dropped first — and takes what was held. A push
//! after the seal is refused, so no emission can be left behind in a slot nobody reads.

use std::future::Future;
use std::pin::Pin;

use http::{Method, Uri};
use parking_lot::Mutex;
use tracing::Span;
use ventus::{EmissionReport, EmitError, EventName};

use crate::background::Background;
use crate::policy::RunPolicy;

/// The emission's run on the application's emitter (`EventEmitter::run*` with the
/// owned payload), made when the handler emits and first polled at hand-off.
pub(crate) type RunFuture = Pin<Box<dyn Future<Output = Result<EmissionReport, EmitError>> + Send>>;

/// One emission held with a request.
pub(crate) struct Pending {
    /// Where it will run and be counted.
    pub(crate) background: Background,
    /// Its event, for the logs and the emitter.
    pub(crate) event: EventName,
    /// The per-emission override of the router's policy.
    pub(crate) policy: Option<RunPolicy>,
    /// The span current when the handler emitted: the parent of the emission's span.
    pub(crate) span: Span,
    /// The run, not yet polled.
    pub(crate) run: RunFuture,
}

/// What a request's emissions share with its response future.
pub(crate) struct Slot {
    /// The request's method, for the logs.
    pub(crate) method: Method,
    /// The request's URI (its path is logged), as the layer saw it.
    pub(crate) uri: Uri,
    /// The emissions held so far, until sealed. Guarded by the lock; no user code runs
    /// under it and nothing is awaited while it is held.
    held: Mutex<Held>,
}

impl Slot {
    pub(crate) fn new(method: Method, uri: Uri) -> Self {
        Self {
            method,
            uri,
            held: Mutex::new(Held::Open(None, Vec::new())),
        }
    }

    /// Holds `pending`, or hands it back if the slot was sealed.
    pub(crate) fn push(&self, pending: Pending) -> Result<(), Pending> {
        match &mut *self.held.lock() {
            Held::Open(first @ None, _) => *first = Some(pending),
            Held::Open(Some(_), rest) => rest.push(pending),
            Held::Sealed => return Err(pending),
        }
        Ok(())
    }

    /// Seals the slot and takes what it held, in the order it was held; nothing if it
    /// was sealed already.
    pub(crate) fn seal(&self) -> impl Iterator<Item = Pending> {
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
enum Held {
    /// Taking emissions: the first (most requests hold at most one, and then no `Vec`
    /// is allocated) and the others.
    Open(Option<Pending>, Vec<Pending>),
    /// The response future resolved or was dropped.
    Sealed,
}

/// The share of the slot that goes into the request's extensions.
#[derive(Clone)]
pub(crate) struct SlotHandle(pub(crate) std::sync::Arc<Slot>);
