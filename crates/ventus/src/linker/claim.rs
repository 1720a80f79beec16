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
/// Set beside a claiming emission's id once that emission has started the handler; from
/// then on the claim cannot be given back.
const STARTED: u64 = 1 << 63;

/// One subscriber's state word.
///
/// Holds `ACTIVE`, `GONE`, or the id of the emission that claimed a once-subscriber
/// (emission ids start at 1 and never reach `STARTED`), with `STARTED` added once that
/// emission started the handler.
///
/// A claim is given back ([`release`](Self::release)) when the processor refuses the
/// emission before it started the handler: the word goes back to `ACTIVE`. That is the
/// only way back to `ACTIVE`, and only the claiming emission takes it.
#[derive(Debug)]
pub(crate) struct ClaimState(AtomicU64);

impl ClaimState {
    pub(crate) fn new() -> Self {
        Self(AtomicU64::new(ACTIVE))
    }

    /// Claims the subscriber for `emission`; `true` for exactly one caller.
    pub(crate) fn claim(&self, emission: u64) -> bool {
        debug_assert!(emission != ACTIVE && emission < STARTED);
        // Relaxed: a value read as not ACTIVE means another emission holds or held the
        // subscriber, so this caller lost (if that emission is refused and gives the claim
        // back, the next emission takes it); a stale ACTIVE only leads to the CAS, which
        // decides. Claimed subscribers stay in snapshots until a write compacts them, and
        // this plain load keeps later emissions from paying a locked instruction for each.
        if self.0.load(Ordering::Relaxed) != ACTIVE {
            return false;
        }
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
    /// active, a once-subscriber only in the emission that claimed it (started or not).
    /// A query: to run the handler, call [`start`](Self::start).
    #[inline]
    pub(crate) fn runs_in(&self, once: bool, emission: u64) -> bool {
        // Acquire pairs with the release half of `end`/`claim`: a handler unsubscribed
        // before this load is seen as gone.
        let state = self.0.load(Ordering::Acquire);
        if once {
            state == emission || state == emission | STARTED
        } else {
            state == ACTIVE
        }
    }

    /// Whether `emission` may start the handler now: a plain subscriber while it is
    /// active; a once-subscriber if `emission` claimed it and has not started it yet,
    /// which this marks, so that the claim can no longer be given back.
    #[inline]
    pub(crate) fn start(&self, once: bool, emission: u64) -> bool {
        if !once {
            // Acquire: as in `runs_in`.
            return self.0.load(Ordering::Acquire) == ACTIVE;
        }
        // AcqRel: one word decides between this start and the emitter's `release`, so
        // exactly one of them succeeds; a once-handler starts once in its life, so the
        // locked instruction is paid once per once-subscriber.
        self.0
            .compare_exchange(
                emission,
                emission | STARTED,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Whether `emission` claimed the subscriber and has not started its handler.
    pub(crate) fn is_held_unstarted(&self, emission: u64) -> bool {
        // Acquire: as in `runs_in`.
        self.0.load(Ordering::Acquire) == emission
    }

    /// Gives back `emission`'s claim if it has not started the handler: the subscriber
    /// is active again. `true` if it was given back.
    pub(crate) fn release(&self, emission: u64) -> bool {
        // AcqRel: against `start` (see there) and `end`, which cannot succeed on a
        // claimed word; the next `claim` reads ACTIVE after this store.
        self.0
            .compare_exchange(emission, ACTIVE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
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

    /// After a claim, later claims lose (on the plain load, before any CAS) and the
    /// claimed subscriber runs only in its own emission.
    #[test]
    fn a_claimed_subscriber_stays_claimed() {
        loom::model(|| {
            let state = Arc::new(ClaimState::new());
            let other = state.clone();
            let t = thread::spawn(move || other.claim(1));
            let here = state.claim(2);
            let there = t.join().unwrap();
            assert!(here ^ there);
            let winner = if here { 2 } else { 1 };
            assert!(!state.claim(3));
            assert!(!state.end());
            assert!(state.runs_in(true, winner));
            assert!(!state.runs_in(true, 3));
        });
    }

    /// The removal that follows a claim, as the registry does it (modelled here with
    /// loom's primitives: the registry uses `parking_lot` and `papaya`). The winning
    /// emission only pushes the id onto `retired` and raises `has_retired`; a writer
    /// drains the list under the state lock, unlinks (`linked = false`), and lowers
    /// `has_retired` only once the list is empty. A query that finds `has_retired`
    /// lowered skips the lock, so it must then see the unlink; one that finds it raised
    /// drains under the lock first. Racing them all with an unsubscribe, the subscriber
    /// is unlinked exactly once, and never seen linked after its emission returned.
    #[test]
    fn retired_subscribers_are_unlinked_once_and_never_seen_linked() {
        use loom::sync::atomic::AtomicBool;
        use loom::sync::Mutex;

        struct Registry {
            state: Mutex<()>,
            retired: Mutex<Vec<u64>>,
            has_retired: AtomicBool,
            linked: AtomicBool,
            unlinked: AtomicUsize,
        }

        impl Registry {
            /// `Registry::retire`.
            fn retire(&self, id: u64) {
                let mut retired = self.retired.lock().unwrap();
                retired.push(id);
                self.has_retired.store(true, Ordering::Relaxed);
            }

            /// `Registry::settle`, with the state lock held by the caller.
            fn settle(&self) {
                if !self.has_retired.load(Ordering::Relaxed) {
                    return;
                }
                let ids = std::mem::take(&mut *self.retired.lock().unwrap());
                for _ in ids {
                    self.unlink();
                }
                let retired = self.retired.lock().unwrap();
                if retired.is_empty() {
                    self.has_retired.store(false, Ordering::Release);
                }
            }

            fn unlink(&self) {
                self.linked.store(false, Ordering::Relaxed);
                self.unlinked.fetch_add(1, Ordering::Relaxed);
            }

            /// A writer, or a query that takes the state lock.
            fn locked(&self) {
                let _state = self.state.lock().unwrap();
                self.settle();
            }

            /// A lock-free query (`contains`, `is_empty`): `settle_retired`, then a read.
            fn is_linked(&self) -> bool {
                if self.has_retired.load(Ordering::Acquire) {
                    self.locked();
                }
                self.linked.load(Ordering::Relaxed)
            }
        }

        loom::model(|| {
            let registry = Arc::new(Registry {
                state: Mutex::new(()),
                retired: Mutex::new(Vec::new()),
                has_retired: AtomicBool::new(false),
                linked: AtomicBool::new(true),
                unlinked: AtomicUsize::new(0),
            });
            let sub = Arc::new(ClaimState::new());

            let (r, s) = (registry.clone(), sub.clone());
            let emission = thread::spawn(move || {
                let won = s.claim(1);
                if won {
                    r.retire(7);
                }
                won
            });
            let (r, s) = (registry.clone(), sub.clone());
            let unsubscribe = thread::spawn(move || {
                // `Subscription::unsubscribe`: the state word first, then the registry.
                let ended = s.end();
                if ended {
                    let _state = r.state.lock().unwrap();
                    r.settle();
                    r.unlink();
                }
                ended
            });
            let r = registry.clone();
            let writer = thread::spawn(move || r.locked());

            let claimed = emission.join().unwrap();
            if claimed {
                // The emission returned: no query may see the subscriber linked.
                assert!(!registry.is_linked());
            }
            let ended = unsubscribe.join().unwrap();
            writer.join().unwrap();
            assert!(claimed ^ ended);
            registry.locked();
            assert_eq!(registry.unlinked.load(Ordering::Relaxed), 1);
            assert!(!registry.has_retired.load(Ordering::Relaxed));
        });
    }

    /// A processor may start a claimed handler (on another thread, if it spawned the
    /// emission) while the emitter, told the emission was refused, gives the claim back.
    /// Exactly one of them wins: the handler runs in the refused emission, or the claim
    /// is given back and the next emission runs it. Either way it runs once.
    #[test]
    fn a_claim_is_either_started_or_given_back() {
        loom::model(|| {
            let state = Arc::new(ClaimState::new());
            assert!(state.claim(1));
            let other = state.clone();
            let processor = thread::spawn(move || other.start(true, 1));
            let released = state.release(1);
            let started = processor.join().unwrap();
            assert!(started ^ released);
            let rerun = state.claim(2) && state.start(true, 2);
            assert_eq!(rerun, released);
            assert!(
                !state.start(true, 1),
                "the refused emission never starts it later"
            );
            assert!(!state.release(2), "a started claim is not given back");
        });
    }

    /// A refused emission's claim given back, racing with an accepted emission, an
    /// unsubscribe and a writer settling the retire list (the registry modelled as in
    /// `retired_subscribers_are_unlinked_once_and_never_seen_linked`). The refused
    /// emission never retires: it gives the claim back before anyone is told. So the
    /// subscriber is unlinked only by the accepted emission or the unsubscribe, at most
    /// one of them; if neither won, it is active and still linked.
    #[test]
    fn a_released_claim_is_never_unlinked() {
        use loom::sync::atomic::AtomicBool;
        use loom::sync::Mutex;

        // The state lock that serialises unlinks is left out: the property is about
        // who unlinks, not about two unlinks racing (the model above covers that).
        struct Registry {
            retired: Mutex<Vec<u64>>,
            linked: AtomicBool,
            unlinked: AtomicUsize,
        }

        impl Registry {
            fn retire(&self, id: u64) {
                self.retired.lock().unwrap().push(id);
            }

            /// A writer settling the retire list.
            fn settle(&self) {
                let ids = std::mem::take(&mut *self.retired.lock().unwrap());
                if !ids.is_empty() {
                    self.unlink();
                }
            }

            fn unlink(&self) {
                self.linked.store(false, Ordering::Relaxed);
                self.unlinked.fetch_add(1, Ordering::Relaxed);
            }
        }

        loom::model(|| {
            let registry = Arc::new(Registry {
                retired: Mutex::new(Vec::new()),
                linked: AtomicBool::new(true),
                unlinked: AtomicUsize::new(0),
            });
            let sub = Arc::new(ClaimState::new());

            let s = sub.clone();
            let refused = thread::spawn(move || {
                // `build` claims; the processor refuses; `settle_claims` gives it back.
                if s.claim(1) {
                    assert!(s.release(1), "nothing started it");
                }
            });
            let (r, s) = (registry.clone(), sub.clone());
            let accepted = thread::spawn(move || {
                let won = s.claim(2) && s.start(true, 2);
                if won {
                    r.retire(7);
                }
                won
            });
            let (r, s) = (registry.clone(), sub.clone());
            let unsubscribe = thread::spawn(move || {
                let ended = s.end();
                if ended {
                    r.unlink();
                }
                ended
            });
            registry.settle();

            refused.join().unwrap();
            let ran = accepted.join().unwrap();
            let ended = unsubscribe.join().unwrap();
            registry.settle();
            assert!(!(ran && ended));
            let unlinked = registry.unlinked.load(Ordering::Relaxed);
            assert_eq!(unlinked, usize::from(ran) + usize::from(ended));
            if !ran && !ended {
                assert!(sub.is_active());
                assert!(registry.linked.load(Ordering::Relaxed));
            }
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
