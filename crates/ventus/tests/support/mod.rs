//! Helpers shared by the integration tests. Each test file uses only some of them.
#![allow(dead_code)]

use std::panic::resume_unwind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use ventus::{EventLinker, HandlerError, HandlerErrorKind, TokioEventEmitter};

/// How long a test waits before it calls a stuck operation a deadlock. Never used to
/// wait for work: only to turn a hang into a failure.
pub(crate) const DEADLOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// A new namespaced linker (tests never touch the global one).
pub(crate) fn linker() -> EventLinker {
    EventLinker::builder()
        .build()
        .expect("a linker with default settings builds")
}

/// A new namespaced linker and a tokio emitter on it.
pub(crate) fn setup() -> (EventLinker, TokioEventEmitter) {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    (linker, emitter)
}

/// A multi-thread runtime with `workers` workers and every driver enabled.
pub(crate) fn multi_thread(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("a multi-thread runtime builds")
}

/// Runs `f` on a fresh std thread (so in a sync context, with no runtime entered) and
/// fails the test if it has not returned within [`DEADLOCK_TIMEOUT`]. A panic in `f`
/// is propagated.
pub(crate) fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    within_for(what, DEADLOCK_TIMEOUT, f)
}

/// [`within`] with a bound of its own, for scenarios whose failure mode is a hang.
pub(crate) fn within_for<T: Send + 'static>(
    what: &str,
    bound: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let handle = thread::spawn(move || {
        let out = f();
        // The receiver may be gone if the test already failed on the timeout.
        let _ = done_tx.send(());
        out
    });
    match done_rx.recv_timeout(bound) {
        Ok(()) => handle.join().unwrap_or_else(|panic| resume_unwind(panic)),
        // The sender was dropped without sending: `f` panicked.
        Err(RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(_) => unreachable!("`f` returned without signalling"),
            Err(panic) => resume_unwind(panic),
        },
        Err(RecvTimeoutError::Timeout) => {
            panic!("{what}: did not finish within {bound:?} (deadlock?)")
        }
    }
}

/// Awaits `fut`, failing the test if it takes longer than [`DEADLOCK_TIMEOUT`].
pub(crate) async fn within_async<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLOCK_TIMEOUT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: did not finish within {DEADLOCK_TIMEOUT:?} (deadlock?)"),
    }
}

/// A shared, ordered log of markers written by handlers.
#[derive(Clone, Default, Debug)]
pub(crate) struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&self, marker: impl Into<String>) {
        self.0.lock().unwrap().push(marker.into());
    }

    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    pub(crate) fn snapshot(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// The markers that start with `prefix`, in order.
    pub(crate) fn with_prefix(&self, prefix: &str) -> Vec<String> {
        self.snapshot()
            .into_iter()
            .filter(|m| m.starts_with(prefix))
            .collect()
    }

    pub(crate) fn position(&self, marker: &str) -> Option<usize> {
        self.snapshot().iter().position(|m| m == marker)
    }
}

/// A shared counter.
#[derive(Clone, Default, Debug)]
pub(crate) struct Counter(Arc<AtomicUsize>);

impl Counter {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn incr(&self) {
        // SeqCst: tests read it from other threads after joins or completion signals;
        // the strongest ordering keeps the reasoning trivial.
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Sends on its channel when dropped: tells a test that a future holding it was dropped.
#[derive(Debug)]
pub(crate) struct DropSignal(
    pub(crate) mpsc::Sender<&'static str>,
    pub(crate) &'static str,
);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send(self.1);
    }
}

/// What a failure callback saw, flattened for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) event: String,
    pub(crate) handler: String,
    pub(crate) kind: FailureKind,
    pub(crate) display: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FailureKind {
    Failed(String),
    Panicked(String),
    PayloadType {
        expected: String,
        found: Option<String>,
    },
    Other,
}

impl Failure {
    pub(crate) fn of(err: &HandlerError) -> Self {
        let kind = match err.kind() {
            HandlerErrorKind::Failed(e) => FailureKind::Failed(e.to_string()),
            HandlerErrorKind::Panicked(msg) => FailureKind::Panicked(msg.clone()),
            HandlerErrorKind::PayloadType { expected, found } => FailureKind::PayloadType {
                expected: (*expected).to_owned(),
                found: found.map(str::to_owned),
            },
            _ => FailureKind::Other,
        };
        Self {
            event: err.event().to_string(),
            handler: err.handler().to_owned(),
            kind,
            display: err.to_string(),
        }
    }
}

/// A shared list of failures, fed by failure callbacks.
#[derive(Clone, Default, Debug)]
pub(crate) struct Failures(Arc<Mutex<Vec<Failure>>>);

impl Failures {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A failure callback that records into this list.
    pub(crate) fn callback(&self) -> impl Fn(&HandlerError) + Send + Sync + 'static {
        let list = self.0.clone();
        move |err: &HandlerError| list.lock().unwrap().push(Failure::of(err))
    }

    pub(crate) fn all(&self) -> Vec<Failure> {
        self.0.lock().unwrap().clone()
    }

    pub(crate) fn clear(&self) {
        self.0.lock().unwrap().clear();
    }

    /// The one failure whose handler name contains `handler`.
    pub(crate) fn of_handler(&self, handler: &str) -> Failure {
        let all = self.all();
        let found: Vec<_> = all.iter().filter(|f| f.handler.contains(handler)).collect();
        assert_eq!(
            found.len(),
            1,
            "expected exactly one failure of a handler named like `{handler}`, got {all:#?}"
        );
        found[0].clone()
    }
}

/// A shared counter and a sync handler that bumps it.
pub(crate) fn counter() -> (Arc<AtomicUsize>, impl Fn() + Send + Sync + 'static) {
    let count = Arc::new(AtomicUsize::new(0));
    let bump = count.clone();
    (count, move || {
        bump.fetch_add(1, Ordering::SeqCst);
    })
}

/// A counter's value.
pub(crate) fn count(c: &AtomicUsize) -> usize {
    c.load(Ordering::SeqCst)
}

/// Whether the event pattern `pattern` matches the emitted `name`, by the plain
/// definition (`*` one `.`-separated segment, `**` one or more, other segments
/// themselves; a name without `*` only itself): what the tests check ventus against.
pub(crate) fn pattern_matches(pattern: &str, name: &str) -> bool {
    fn go(segs: &[&str], parts: &[&str]) -> bool {
        match (segs.split_first(), parts.split_first()) {
            (None, None) => true,
            (Some((&"**", rest)), Some(_)) => (1..=parts.len()).any(|k| go(rest, &parts[k..])),
            (Some((&"*", rest)), Some((_, tail))) => go(rest, tail),
            (Some((seg, rest)), Some((part, tail))) => seg == part && go(rest, tail),
            _ => false,
        }
    }
    if !pattern.contains('*') {
        return pattern == name;
    }
    let segs: Vec<&str> = pattern.split('.').collect();
    let parts: Vec<&str> = name.split('.').collect();
    go(&segs, &parts)
}
