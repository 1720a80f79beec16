//! The life of one subscriber: active, claimed by one emission, or gone.
//!
//! A once-subscriber must run at most once, and exactly once if its event is emitted,
//! however many threads emit at the same time. Everything that can end a subscriber
//! (an emission claiming it, `unsubscribe`, a registry removal) goes through one atomic
//! word, so exactly one of them wins and the others see that they lost.

#[cfg(ventus_loom)]
use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(ventus_loom))]
use std::sync::atomic::{AtomicU64, Ordering};

/// The subscriber is linked and may run.
const ACTIVE: u64 = 0;
/// The subscriber was unsubscribed or removed; it never runs again.
const GONE: u64 = u64::MAX;

/// One subscriber's state word.
///
/// Holds `ACTIVE`, `GONE`, or the id of the emission that claimed a once-subscriber
/// (emission ids start at 1 and never reach `u64::MAX`).
#[derive(Debug)]
pub(crate) struct ClaimState(AtomicU64);

impl ClaimState {
    pub(crate) fn new() -> Self {
        Self(AtomicU64::new(ACTIVE))
    }

    /// Claims the subscriber for `emission`; `true` for exactly one caller.
    pub(crate) fn claim(&self, emission: u64) -> bool {
        debug_assert!(emission != ACTIVE && emission != GONE);
        // AcqRel: the winner's later reads of the registry happen after any earlier
        // unsubscribe it raced with; the single-word CAS is what makes the winner unique.
        self.0
            .compare_exchange(ACTIVE, emission, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Ends the subscriber; `true` if it was active (not claimed, not already gone).
    pub(crate) fn end(&self) -> bool {
        // Same word as `claim`, so an unsubscribe and a claim cannot both succeed.
        self.0
            .compare_exchange(ACTIVE, GONE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Whether the subscriber may run in `emission`: a plain subscriber while it is
    /// active, a once-subscriber only in the emission that claimed it.
    #[inline]
    pub(crate) fn runs_in(&self, once: bool, emission: u64) -> bool {
        // Acquire pairs with the release half of `end`/`claim`: a handler unsubscribed
        // before this load is seen as gone.
        let state = self.0.load(Ordering::Acquire);
        if once {
            state == emission
        } else {
            state == ACTIVE
        }
    }

    /// Whether the subscriber has neither been claimed nor ended.
    pub(crate) fn is_active(&self) -> bool {
        self.0.load(Ordering::Acquire) == ACTIVE
    }
}

#[cfg(all(test, ventus_loom))]
mod loom_tests {
    use super::ClaimState;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;
    use loom::thread;

    /// Two emissions and an unsubscribe race: exactly one of them wins, and the
    /// winning emission is the only one that runs the once-subscriber.
    #[test]
    fn once_claim_has_one_winner() {
        loom::model(|| {
            let state = Arc::new(ClaimState::new());
            let wins = Arc::new(AtomicUsize::new(0));
            let mut threads = Vec::new();
            for emission in [1_u64, 2] {
                let (state, wins) = (state.clone(), wins.clone());
                threads.push(thread::spawn(move || {
                    if state.claim(emission) {
                        wins.fetch_add(1, Ordering::Relaxed);
                        assert!(state.runs_in(true, emission));
                    } else {
                        assert!(!state.runs_in(true, emission));
                    }
                }));
            }
            let unsubscribed = state.end();
            for t in threads {
                t.join().unwrap();
            }
            let wins = wins.load(Ordering::Relaxed) + usize::from(unsubscribed);
            assert_eq!(wins, 1);
            assert!(!state.is_active());
        });
    }

    /// A plain subscriber runs until it is ended, and `end` succeeds once.
    #[test]
    fn end_is_reported_once() {
        loom::model(|| {
            let state = Arc::new(ClaimState::new());
            let other = state.clone();
            let t = thread::spawn(move || other.end());
            let here = state.end();
            let there = t.join().unwrap();
            assert!(here ^ there);
            assert!(!state.runs_in(false, 1));
        });
    }
}
