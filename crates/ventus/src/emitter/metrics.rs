//! Counters an emitter keeps: cheap to bump from many threads, summed when read.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::report::Counts;

/// Stripes per counter set: threads bump their own stripe, so emitting threads do not
/// share a cache line. The first `OWNED` are each owned by one thread; the rest are
/// shared by the threads that come later.
const STRIPES: usize = 16;
const OWNED: usize = 8;

/// One stripe, padded to its own cache lines.
#[derive(Default)]
#[repr(align(128))]
struct Stripe {
    emitted: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    panicked: AtomicU64,
    timed_out: AtomicU64,
    cancelled: AtomicU64,
}

/// An emitter's counters.
#[derive(Default)]
pub(crate) struct Metrics {
    stripes: [Stripe; STRIPES],
}

/// This thread's stripe, and whether it is this thread's alone.
///
/// The first `OWNED` threads that bump any counter each get a stripe of their own, in
/// every emitter: they are its only writer, so a plain load and store bump it, without
/// the cost of a locked read-modify-write. Later threads share the other stripes (never
/// an owned one) and use `fetch_add`.
fn stripe_index() -> (usize, bool) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    let i = INDEX.with(|index| {
        let mut i = index.get();
        if i == usize::MAX {
            // Relaxed: only the uniqueness of the value matters, and fetch_add gives it.
            i = NEXT.fetch_add(1, Ordering::Relaxed);
            index.set(i);
        }
        i
    });
    if i < OWNED {
        (i, true)
    } else {
        (OWNED + i % (STRIPES - OWNED), false)
    }
}

/// Adds `n` to a counter; `exclusive` says this thread is its only writer.
fn bump(counter: &AtomicU64, n: u64, exclusive: bool) {
    // Relaxed everywhere here: counters are statistics, read without ordering.
    if exclusive {
        // One writer: the load sees its own last store, so nothing is lost.
        counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    } else {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

#[cold]
fn record_rest(s: &Stripe, exclusive: bool, counts: &Counts) {
    for (counter, n) in [
        (&s.failed, counts.failed),
        (&s.panicked, counts.panicked),
        (&s.timed_out, counts.timed_out),
        (&s.cancelled, counts.cancelled),
    ] {
        if n > 0 {
            bump(counter, u64::from(n), exclusive);
        }
    }
}

impl Metrics {
    pub(crate) fn emitted(&self) {
        let (i, exclusive) = stripe_index();
        bump(&self.stripes[i].emitted, 1, exclusive);
    }

    /// One emission that ran to its end at once: [`emitted`](Self::emitted) and
    /// [`record`](Self::record) with one look at the thread's stripe.
    #[inline]
    pub(crate) fn emitted_and_record(&self, counts: &Counts) {
        let (i, exclusive) = stripe_index();
        bump(&self.stripes[i].emitted, 1, exclusive);
        self.record_in(i, exclusive, counts);
    }

    pub(crate) fn record(&self, counts: &Counts) {
        let (i, exclusive) = stripe_index();
        self.record_in(i, exclusive, counts);
    }

    #[inline]
    fn record_in(&self, i: usize, exclusive: bool, counts: &Counts) {
        let s = &self.stripes[i];
        if counts.succeeded > 0 {
            bump(&s.succeeded, u64::from(counts.succeeded), exclusive);
        }
        // Anything else is rare: one test for all of it.
        if counts.total() != counts.succeeded {
            record_rest(s, exclusive, counts);
        }
    }

    pub(crate) fn snapshot(&self, in_flight: usize) -> EmitterMetrics {
        let mut m = EmitterMetrics {
            in_flight,
            ..EmitterMetrics::default()
        };
        for s in &self.stripes {
            m.emitted += s.emitted.load(Ordering::Relaxed);
            m.succeeded += s.succeeded.load(Ordering::Relaxed);
            m.failed += s.failed.load(Ordering::Relaxed);
            m.panicked += s.panicked.load(Ordering::Relaxed);
            m.timed_out += s.timed_out.load(Ordering::Relaxed);
            m.cancelled += s.cancelled.load(Ordering::Relaxed);
        }
        m
    }
}

/// What an emitter has done so far, from [`EventEmitter::metrics`](crate::EventEmitter::metrics).
///
/// Counts cover the emitter and its clones. Handler counts grow when an emission ends,
/// so they lag `emitted` while emissions are in flight.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// linker.on("Tick").subscribe(|| ())?;
/// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
/// emitter.emit("Tick")?;
/// emitter.emit("Tick")?;
/// let metrics = emitter.metrics();
/// assert_eq!((metrics.emitted, metrics.succeeded, metrics.in_flight), (2, 2, 0));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmitterMetrics {
    /// Emissions made (those with no handler linked included).
    pub emitted: u64,
    /// Handler runs that succeeded.
    pub succeeded: u64,
    /// Handler runs that failed (error or payload mismatch).
    pub failed: u64,
    /// Handler runs that panicked.
    pub panicked: u64,
    /// Handler runs that went past their timeout.
    pub timed_out: u64,
    /// Handler runs cancelled before they finished.
    pub cancelled: u64,
    /// Emissions scheduled and not yet finished.
    pub in_flight: usize,
}
