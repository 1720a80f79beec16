//! Counters an emitter keeps: cheap to bump from many threads, summed when read.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;

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
    filtered: AtomicU64,
}

/// An emitter's counters.
#[derive(Default)]
pub(crate) struct Metrics {
    stripes: [Stripe; STRIPES],
}

/// Owned stripe indices whose threads have ended, for the next threads to take.
static FREE: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Indices never handed out yet.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// This thread's stripe index (`usize::MAX` until it first bumps a counter); an owned
/// index goes back to [`FREE`] when the thread ends.
struct ThreadStripe(Cell<usize>);

impl Drop for ThreadStripe {
    fn drop(&mut self) {
        let i = self.0.get();
        if i < OWNED {
            // The thread bumps nothing after this: a later bump from another
            // thread-local's destructor finds this one gone and takes a shared stripe.
            // The lock orders this thread's last store before the next owner's load.
            FREE.lock().push(i);
        }
    }
}

thread_local! {
    static INDEX: ThreadStripe = const { ThreadStripe(Cell::new(usize::MAX)) };
}

/// This thread's stripe, and whether it is this thread's alone.
///
/// Each of up to `OWNED` live threads that bump any counter gets a stripe of its own, in
/// every emitter: it is its only writer, so a plain load and store bump it, without the
/// cost of a locked read-modify-write. A thread's owned stripe is handed to a later thread
/// when it ends, so threads that come and go (runtime workers, blocking pools) do not use
/// them up. Beyond `OWNED` live threads, threads share the other stripes (never an owned
/// one) and use `fetch_add`.
#[inline]
fn stripe_index() -> (usize, bool) {
    let i = INDEX
        .try_with(|slot| {
            let mut i = slot.0.get();
            if i == usize::MAX {
                i = take_index();
                slot.0.set(i);
            }
            i
        })
        // The thread is ending and its slot is gone: a shared stripe.
        .unwrap_or(OWNED);
    if i < OWNED {
        (i, true)
    } else {
        (OWNED + i % (STRIPES - OWNED), false)
    }
}

#[cold]
fn take_index() -> usize {
    match FREE.lock().pop() {
        Some(i) => i,
        // Relaxed: only the uniqueness of the value matters, and fetch_add gives it.
        None => NEXT.fetch_add(1, Ordering::Relaxed),
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

    /// One emission dropped by the emitter's filter.
    #[cold]
    pub(crate) fn filtered(&self) {
        let (i, exclusive) = stripe_index();
        bump(&self.stripes[i].filtered, 1, exclusive);
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
            m.filtered += s.filtered.load(Ordering::Relaxed);
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
    /// Emissions the emitter's [`EmissionFilter`](crate::EmissionFilter) dropped; they
    /// are not counted in `emitted`, and no handler of theirs ran.
    ///
    /// ```
    /// use ventus::{EmissionView, EventEmitter, EventLinker, Verdict};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Tick").subscribe(|| ())?;
    /// let emitter = EventEmitter::builder()
    ///     .linker(&linker)
    ///     .filter(|_: &EmissionView<'_>| Verdict::drop("paused"))
    ///     .build();
    /// assert!(emitter.emit("Tick").is_err());
    /// let metrics = emitter.metrics();
    /// assert_eq!((metrics.filtered, metrics.emitted), (1, 0));
    /// # Ok(())
    /// # }
    /// ```
    pub filtered: u64,
    /// Emissions scheduled and not yet finished: the processor's
    /// [`in_flight`](crate::Processor::in_flight). An emission leaves it before its report
    /// is published, so it is no longer counted once its handle's wait has returned.
    pub in_flight: usize,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::{stripe_index, Counts, Metrics, OWNED};

    #[test]
    fn threads_that_come_and_go_keep_getting_owned_stripes() {
        // Far more threads than owned stripes, one after the other: each finds the stripe
        // of one that ended (other tests' threads hold at most a few).
        for n in 0..4 * OWNED {
            let (_, owned) = thread::spawn(stripe_index).join().unwrap();
            assert!(owned, "thread {n} got a shared stripe");
        }
    }

    #[test]
    fn counts_stay_exact_while_threads_come_and_go() {
        const WAVES: u64 = 6;
        const THREADS: u64 = 5;
        const BUMPS: u64 = 20_000;
        let metrics = Arc::new(Metrics::default());
        let one = Counts {
            succeeded: 1,
            ..Counts::default()
        };
        for _ in 0..WAVES {
            let wave: Vec<_> = (0..THREADS)
                .map(|_| {
                    let metrics = metrics.clone();
                    thread::spawn(move || {
                        for _ in 0..BUMPS {
                            metrics.emitted_and_record(&one);
                        }
                    })
                })
                .collect();
            for thread in wave {
                thread.join().unwrap();
            }
        }
        let seen = metrics.snapshot(0);
        assert_eq!(seen.emitted, WAVES * THREADS * BUMPS);
        assert_eq!(seen.succeeded, WAVES * THREADS * BUMPS);
    }
}
