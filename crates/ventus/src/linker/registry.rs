//! The registry behind an [`EventLinker`](super::EventLinker).
//!
//! # Invariants
//!
//! - `events` maps an event key to an immutable [`EventEntry`] snapshot. It is written
//!   only while `state` is locked, so writers are serialised; readers (emissions) never
//!   lock and see either the old or the new snapshot of an event.
//! - A snapshot's subscribers are the first `len` slots of a buffer ([`Subscribers`])
//!   that it may share with the other snapshots of its event: a subscribe that finds
//!   room in the current snapshot's buffer fills the next slot and publishes a snapshot
//!   one longer over the same buffer; the snapshot it replaces keeps its length. A slot
//!   is a `OnceLock`, filled at most once, under `state`. The current snapshot of an
//!   event always ends where its buffer is filled: every snapshot not made by such an
//!   append gets a buffer of its own, filled to its length. So an append fills a slot
//!   that no published snapshot covers, the replaced snapshots (all shorter) never read
//!   it, and the list a snapshot covers never changes: an emission walking it does not
//!   see a subscriber linked meanwhile. A slot is filled before the snapshot covering it
//!   is published (`papaya`'s insert releases what its lookups acquire), so a reader
//!   finds every slot of its snapshot filled; `OnceLock` makes the slot's own store and
//!   load sound whatever the order. This adds no atomic protocol of ventus's own: the
//!   only cross-thread hand-over is the map's, as before. A full buffer is copied into
//!   one of twice the room, so `n` subscribes to one event copy fewer than `2n`
//!   subscribers in all.
//! - The any-event target is stored under the key `""`, which no user event can have
//!   (empty names are rejected). A pattern's subscribers are stored under the pattern
//!   (a key with a `*`, which `link` accepts only as a valid pattern), and
//!   `state.patterns` lists exactly the keys of `events` that are patterns. `routes`
//!   says whether the any-event key is present and whether `state.patterns` is
//!   non-empty; both are kept by `wrote`, which every write to `events` ends with. An
//!   emission with patterns linked runs the entry [`matches`](self::matches) resolves
//!   for its name, which merges the name's subscribers with those of its patterns.
//! - A subscriber with a record in `state.records` is in the entry of every key its
//!   record lists, and the other way round. Subscriber lists are sorted by start order
//!   (`Subscriber::order`: priority, then subscription id): a subscriber is linked only
//!   when it is created, in its place by that order: last (ids only grow) unless its
//!   priority is above the lowest of the list.
//! - A subscriber in an entry without a record is *retired*: a once-subscriber that an
//!   emission claimed and a later `settle` unlinked (see below). `state.dead[key]`
//!   counts the retired subscribers in `key`'s entry and `state.dead_links` is the sum;
//!   every entry has at least one subscriber that is not retired (an event left with
//!   only retired subscribers is removed). Every published entry is built without
//!   retired subscribers (a subscribe appends only to an entry that holds none, and
//!   builds a new list otherwise), so a key leaves `state.dead` whenever its entry is
//!   replaced.
//! - `state.live_links` is the number of keys over all records.
//!
//! # Removing claimed once-subscribers
//!
//! An emission that claims a once-subscriber (one compare-and-swap on its
//! [`ClaimState`]) only pushes its id onto `retired`; it does no work per link. It
//! pushes only once the claim is final: at once on the emitter's lean paths, which run
//! the handlers themselves; on the full path when the emission starts the handler or
//! its processor takes it, whichever comes first. A processor's refusal gives a claim
//! not started back (the subscriber is active again) before anything was pushed, so no
//! id here belongs to a subscriber that is active again. Every
//! operation that takes `state` (writes and queries alike) first runs `settle`, which
//! drains `retired`: it removes each claimed subscriber's record, counts it dead in each
//! of its events' entries and removes the events left with no other subscriber, so
//! queries never show a claimed subscriber or an event only it was linked to. The dead
//! entries themselves stay in the snapshots, where emissions skip them with one load
//! each (a claimed subscriber never runs again), until the snapshot is rebuilt: by a
//! write to that event, which drops them anyway, or by a sweep that rebuilds every
//! entry with dead subscribers once `dead_links` exceeds half of `live_links`. A sweep
//! costs at most the size of those entries, under three times the dead links it
//! removes, so removal is amortised O(1) per link.
//!
//! A replaced snapshot keeps its buffer, so also the subscribers appended to it after
//! that snapshot was replaced: they go when the last snapshot sharing the buffer is
//! reclaimed, as the replaced snapshot's own subscribers do. That is at most the
//! buffer's room past the snapshot's end, no more than the snapshot's own length (or
//! four): a buffer has twice the room of the snapshot it was copied for. The current
//! snapshot holds no subscriber it does not list (it ends where its buffer is filled).
//!
//! If nothing takes `state` again, what is left is bounded: one id per claimed
//! subscriber in `retired`, and the claimed subscribers themselves in the snapshots
//! that held them, which are no larger than they were before the claims. A claimed
//! subscriber's handler (and what it captured) is therefore dropped when the last
//! snapshot holding it is replaced and reclaimed, not when it runs; `papaya` already
//! reclaimed replaced snapshots lazily, so no drop time was ever promised.
//!
//! # Deadlock safety
//!
//! There are two locks, `state` and `retired`. `retired` is held only to push an id or
//! to take or inspect the list, never while taking another lock; `settle` takes it
//! while holding `state`, and nothing takes `state` while holding it, so they cannot
//! deadlock. No user code runs while either is held. The only user code that could run
//! under `state` is the drop of a handler (its captured values), when the registry
//! drops its last reference to a subscriber. [`Subscriber`]'s `Drop` defers that to the
//! end of [`Registry::locked`], after the lock is released. Under `retired` only ids
//! are moved.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::claim::ClaimState;
use crate::event::SubscriptionId;
use crate::event::{EventTarget, EventType};
use crate::handler::{ErasedHandler, FailureCallback};

pub(crate) use super::entry::{EventEntry, Slot, Subscribers};
use super::error::SubscribeError;
use super::pattern::{is_pattern, Pattern};
use super::subscriber::DeferDrops;
pub(crate) use super::subscriber::Subscriber;

type Hasher = foldhash::fast::RandomState;
pub(crate) type EventMap = papaya::HashMap<Arc<str>, Arc<EventEntry>, Hasher>;

/// The key of the any-event target.
pub(crate) const ANY_KEY: &str = "";

/// A [`Registry::routes`] bit: "any event" has subscribers.
const ANY: u8 = 1;
/// A [`Registry::routes`] bit: some pattern has subscribers.
const PATTERNS: u8 = 2;

thread_local! {
    /// Alive while `papaya`'s thread-locals are: see [`map_usable`].
    static MAP_READY: MapReady = MapReady::new();
}

/// Whether this thread can still pin `papaya` maps (whose guards use a thread-local of
/// `seize`, its collector) with the usual [`papaya::HashMap::guard`].
struct MapReady(bool);

impl MapReady {
    fn new() -> Self {
        // Pins a map once first, so that `seize`'s thread-locals are registered before
        // this one, and destroyed after it (thread-local destructors run in reverse order
        // of registration). If they are gone already, the pin panics: caught, and this
        // thread's map calls then all go elsewhere.
        let warm = std::panic::catch_unwind(|| {
            let map = papaya::HashMap::<u8, u8>::new();
            drop(map.guard());
        });
        Self(warm.is_ok())
    }
}

impl Drop for MapReady {
    // A destructor of its own, so that `try_with` reports it gone once it has run.
    fn drop(&mut self) {}
}

/// Whether map guards can be taken on this thread; `false` during thread-local
/// destruction, once `seize`'s thread-locals may be gone.
#[inline]
pub(crate) fn map_usable() -> bool {
    MAP_READY.try_with(|ready| ready.0).unwrap_or(false)
}

/// Runs `f` on a helper thread and waits for it: how a call made during this thread's
/// thread-local destruction (when [`map_usable`] is `false`) still does its work, with
/// thread-locals of its own. A cold path, taken only then.
#[cold]
pub(crate) fn elsewhere<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|scope| match scope.spawn(f).join() {
        Ok(out) => out,
        // Ventus catches user panics itself; this is a ventus bug, passed on.
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// What the lock guards: who is linked to what.
#[derive(Default)]
struct State {
    /// The linked subscribers; see the module invariants.
    records: std::collections::HashMap<SubscriptionId, Record, Hasher>,
    /// For each key whose entry holds retired subscribers, how many it holds.
    dead: std::collections::HashMap<Arc<str>, usize, Hasher>,
    /// The sum of `dead`.
    dead_links: usize,
    /// The number of keys over all records.
    live_links: usize,
    /// Empty; swapped with `Registry::retired` by `settle`.
    spare: Vec<SubscriptionId>,
    /// The keys of `events` that are patterns, each with its parsed pattern.
    patterns: Vec<(Arc<str>, Pattern)>,
    next_id: u64,
}

struct Record {
    subscriber: Arc<Subscriber>,
    /// A boxed slice rather than a `Vec`: a record per subscription, and removals
    /// from it are rare.
    keys: Box<[Arc<str>]>,
}

impl State {
    /// How many of `entry`'s subscribers are not retired.
    fn live_len(&self, key: &str, entry: &EventEntry) -> usize {
        entry.subscribers.len() - self.dead.get(key).copied().unwrap_or(0)
    }

    /// The typed event `key` belongs to: that of its subscribers not retired.
    fn type_of(
        &self,
        events: &EventMap,
        guard: &papaya::LocalGuard<'_>,
        key: &str,
    ) -> Option<EventType> {
        let entry = events.get(key, guard)?;
        let linked = entry.event_type?;
        if !self.dead.contains_key(key) {
            return Some(linked);
        }
        // Retired subscribers keep no claim on the name.
        entry
            .subscribers
            .iter()
            .filter(|s| self.records.contains_key(&s.id))
            .find_map(|s| s.event_type)
    }

    /// The subscribers of `key`'s entry that are not retired, for a new entry.
    fn live_of(
        &self,
        events: &EventMap,
        guard: &papaya::LocalGuard<'_>,
        key: &str,
    ) -> Vec<Arc<Subscriber>> {
        let Some(entry) = events.get(key, guard) else {
            return Vec::new();
        };
        if self.dead.contains_key(key) {
            entry
                .subscribers
                .iter()
                .filter(|s| self.records.contains_key(&s.id))
                .map(|s| Arc::clone(s))
                .collect()
        } else {
            entry.subscribers.iter().map(|s| Arc::clone(s)).collect()
        }
    }
}

/// Events and subscribers of one linker.
pub(crate) struct Registry {
    /// Published snapshots; see the module invariants.
    pub(crate) events: EventMap,
    /// Which lookups an emission makes beyond its own name: [`ANY`] when `events` holds
    /// the any-event key, [`PATTERNS`] when it holds a pattern. Written under `state`.
    routes: AtomicU8,
    /// The resolved entries of names emitted while patterns are linked; see
    /// [`matches`](self::matches).
    matches: MatchMap,
    /// Serialises writers and holds the subscriber records.
    state: Mutex<State>,
    /// Once-subscribers claimed by an emission and not yet unlinked by `settle`.
    /// Pushed to by emissions, drained under `state`; see the module docs.
    retired: Mutex<Vec<SubscriptionId>>,
    /// `false` only when `retired` is empty and every id taken from it has been
    /// settled. Written under `retired`.
    has_retired: AtomicBool,
}

/// The options of a new subscriber.
pub(crate) struct NewSubscriber {
    pub(crate) once: bool,
    pub(crate) blocking: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) handler: ErasedHandler,
    pub(crate) on_failure: Option<Arc<FailureCallback>>,
    pub(crate) event_type: Option<EventType>,
    pub(crate) priority: i32,
}

/// The registry key of a target; `None` for an empty name, which no event can have
/// (and which must not be mistaken for the any-event key).
pub(crate) fn key_of(target: &EventTarget) -> Option<Arc<str>> {
    match target {
        EventTarget::Named(name) if name.is_empty() => None,
        EventTarget::Named(name) => Some(name.clone()),
        EventTarget::Any => Some(Arc::from(ANY_KEY)),
    }
}

pub(crate) fn target_of(key: &Arc<str>) -> EventTarget {
    if key.is_empty() {
        EventTarget::Any
    } else {
        EventTarget::Named(key.clone())
    }
}

impl Registry {
    pub(crate) fn new() -> Self {
        Self {
            events: EventMap::with_hasher(Hasher::default()),
            routes: AtomicU8::new(0),
            matches: MatchMap::with_hasher(Hasher::default()),
            state: Mutex::new(State {
                next_id: 1,
                ..State::default()
            }),
            retired: Mutex::new(Vec::new()),
            has_retired: AtomicBool::new(false),
        }
    }

    /// Pins the snapshots for an emission's lookups ([`lookup`](Self::lookup)).
    #[inline(always)]
    pub(crate) fn pin(&self) -> Pins<'_> {
        // Acquire pairs with the Release store in `wrote`: an emission that starts after
        // `subscribe` returned sees the any-event entry and the pattern.
        Pins::new(self, self.routes.load(Ordering::Acquire))
    }

    /// The snapshots an emission of `event` runs: that of its name (with the subscribers
    /// of the patterns that match it, when patterns are linked) and that of "any event".
    /// With neither "any event" nor patterns linked, one map lookup.
    // Always: it is most of the emit path's lookup, which the lean path inlines whole.
    #[inline(always)]
    pub(crate) fn lookup<'g, 'r: 'g>(
        &'r self,
        event: &str,
        pins: &'g Pins<'r>,
    ) -> (Option<&'g Arc<EventEntry>>, Option<&'g Arc<EventEntry>>) {
        let direct = match pins {
            Pins::Plain { events, .. } => self.events.get(event, events),
            Pins::Patterns { .. } => self.matched(event, pins),
        };
        let any = if pins.any() {
            self.events.get(ANY_KEY, pins.events())
        } else {
            None
        };
        (direct, any)
    }

    /// Records that an emission claimed the once-subscriber `id`; the emit path's only
    /// work for its removal. `settle` does the rest.
    pub(crate) fn retire(&self, id: SubscriptionId) {
        let mut retired = self.retired.lock();
        retired.push(id);
        // Relaxed: written and cleared only under `retired`, whose lock orders it; a
        // reader that sees `true` takes `state` and `retired` before trusting anything.
        self.has_retired.store(true, Ordering::Relaxed);
    }

    /// Settles claimed once-subscribers before a lock-free query, so that it does not
    /// see them.
    pub(crate) fn settle_retired(&self) {
        // Acquire pairs with the Release store of `false` at the end of `settle`: a
        // reader that sees `false` sees the events `settle` removed as removed.
        if self.has_retired.load(Ordering::Acquire) {
            self.locked(|_, _, _| ());
        }
    }

    fn locked<R: Send>(
        &self,
        f: impl FnOnce(&mut State, &EventMap, &papaya::LocalGuard<'_>) -> R + Send,
    ) -> R {
        if !map_usable() {
            return elsewhere(|| self.locked(f));
        }
        // Declared in this order so they drop in reverse: the lock first, then the
        // map guard, then the deferred handler drops, with no lock held.
        let _defer = DeferDrops::enter();
        let guard = self.events.guard();
        let mut state = self.state.lock();
        self.settle(&mut state, &self.events, &guard);
        f(&mut state, &self.events, &guard)
    }

    /// Unlinks the claimed once-subscribers in `retired`, and sweeps the snapshots when
    /// they hold too many of them; see the module docs.
    fn settle(&self, state: &mut State, events: &EventMap, guard: &papaya::LocalGuard<'_>) {
        // Relaxed: only a hint; `retired` is read under its lock below. An id pushed after
        // this load is settled by the next operation.
        if !self.has_retired.load(Ordering::Relaxed) {
            return;
        }
        // Swapped with a spare list rather than taken, so that neither list loses its
        // capacity and emissions do not allocate to push.
        let mut retired = std::mem::take(&mut state.spare);
        std::mem::swap(&mut *self.retired.lock(), &mut retired);
        for id in retired.drain(..) {
            // No record: the subscriber's events were removed after it was claimed.
            let Some(record) = state.records.remove(&id) else {
                continue;
            };
            state.live_links -= record.keys.len();
            for key in &record.keys {
                let len = events.get(key, guard).map_or(0, |e| e.subscribers.len());
                let dead = state.dead.entry(key.clone()).or_insert(0);
                *dead += 1;
                state.dead_links += 1;
                if *dead >= len {
                    // Only retired subscribers are left: the event goes.
                    self.publish(state, events, guard, key, Vec::new());
                }
            }
        }
        state.spare = retired;
        if state.dead_links > state.live_links / 2 {
            let keys: Vec<Arc<str>> = state.dead.keys().cloned().collect();
            for key in &keys {
                let live = state.live_of(events, guard, key);
                self.publish(state, events, guard, key, live);
            }
        }
        let retired = self.retired.lock();
        if retired.is_empty() {
            // Release: see `settle_retired`; after the removals above.
            self.has_retired.store(false, Ordering::Release);
        }
    }

    /// Publishes `subscribers` (none of them retired) as the entry of `key`, or removes
    /// the key if empty.
    fn publish(
        &self,
        state: &mut State,
        events: &EventMap,
        guard: &papaya::LocalGuard<'_>,
        key: &Arc<str>,
        subscribers: Vec<Arc<Subscriber>>,
    ) {
        // The old entry's retired subscribers go with it.
        if let Some(dead) = state.dead.remove(&**key) {
            state.dead_links -= dead;
        }
        if subscribers.is_empty() {
            events.remove(key, guard);
        } else {
            let len = subscribers.len();
            let subscribers = Subscribers::copied(subscribers.into_iter(), len, len);
            let entry = EventEntry::new(key.clone(), subscribers);
            events.insert(key.clone(), Arc::new(entry), guard);
        }
        self.wrote(state, events, guard, key);
    }

    /// Keeps what depends on `events` right after `key`'s entry was replaced, added or
    /// removed: the resolved entries of [`matches`](self::matches) that hold `key`'s
    /// subscribers (the name's own, or every name the pattern matches) are dropped, and
    /// the list of patterns and the `routes` bits are brought up to date.
    fn wrote(
        &self,
        state: &mut State,
        events: &EventMap,
        guard: &papaya::LocalGuard<'_>,
        key: &Arc<str>,
    ) {
        if !self.matches.is_empty() {
            let matches = self.matches.pin();
            match Pattern::parse(key) {
                // A pattern's subscribers are in the entries of the names it matches.
                Ok(Some(pattern)) => matches.retain(|name, _| !pattern.matches(name)),
                // An exact name's own subscribers are in its entry alone; "any event"'s
                // in none.
                _ if !key.is_empty() => {
                    matches.remove(&**key);
                }
                _ => {}
            }
        }
        if key.is_empty() || is_pattern(key) {
            if !key.is_empty() {
                let listed = state.patterns.iter().position(|(k, _)| k == key);
                match (events.contains_key(key, guard), listed) {
                    (true, None) => {
                        // `link` refuses a key that is not a valid pattern.
                        if let Ok(Some(pattern)) = Pattern::parse(key) {
                            state.patterns.push((key.clone(), pattern));
                        }
                    }
                    (false, Some(at)) => {
                        state.patterns.swap_remove(at);
                    }
                    _ => {}
                }
            }
            let mut routes = 0;
            if events.contains_key(ANY_KEY, guard) {
                routes |= ANY;
            }
            if state.patterns.is_empty() {
                // Names no pattern matched may be left: nothing reads them now.
                if !self.matches.is_empty() {
                    self.matches.pin().clear();
                }
            } else {
                routes |= PATTERNS;
            }
            // Release: see `lookup`.
            self.routes.store(routes, Ordering::Release);
        }
    }

    /// Publishes `key`'s entry with `new` in its place by start order: last, unless it
    /// has a higher priority than the last subscriber (its id is the largest). Amortised
    /// O(1) when it goes last and the entry holds no retired subscriber: `new` goes into
    /// the buffer the entry shares with the one it replaces (see
    /// [`Subscribers::appended`]); otherwise the list is copied.
    fn append(
        &self,
        state: &mut State,
        events: &EventMap,
        guard: &papaya::LocalGuard<'_>,
        key: &Arc<str>,
        new: &Arc<Subscriber>,
    ) {
        match events.get(key, guard) {
            Some(entry)
                if !state.dead.contains_key(&**key)
                    && entry
                        .subscribers
                        .last()
                        .is_none_or(|s| s.order() < new.order()) =>
            {
                let entry = entry.appended(Arc::clone(new));
                events.insert(key.clone(), Arc::new(entry), guard);
                self.wrote(state, events, guard, key);
            }
            _ => {
                let mut subscribers = state.live_of(events, guard, key);
                let at = subscribers.partition_point(|s| s.order() < new.order());
                subscribers.insert(at, Arc::clone(new));
                self.publish(state, events, guard, key, subscribers);
            }
        }
    }

    /// Links a new subscriber to every key, or to none if one key is full.
    pub(crate) fn link(
        &self,
        keys: Vec<Arc<str>>,
        max_subscribers: Option<usize>,
        new: NewSubscriber,
    ) -> Result<Arc<Subscriber>, SubscribeError> {
        for key in &keys {
            if let Err(reason) = Pattern::parse(key) {
                return Err(SubscribeError::InvalidPattern {
                    pattern: key.to_string(),
                    reason: reason.to_string(),
                });
            }
        }
        self.locked(|state, events, guard| {
            if let Some(max) = max_subscribers {
                for key in &keys {
                    let len = events.get(key, guard).map_or(0, |e| state.live_len(key, e));
                    if len >= max {
                        return Err(SubscribeError::TooManySubscribers {
                            event: target_of(key).to_string(),
                            max,
                        });
                    }
                }
            }
            if let Some(new_type) = new.event_type {
                for key in &keys {
                    if let Some(linked) = state.type_of(events, guard, key) {
                        if linked != new_type {
                            return Err(SubscribeError::NameCollision {
                                event: target_of(key).to_string(),
                                linked: linked.name(),
                                subscribed: new_type.name(),
                            });
                        }
                    }
                }
            }
            let id = SubscriptionId(state.next_id);
            state.next_id += 1;
            let subscriber = Arc::new(Subscriber {
                id,
                state: ClaimState::new(),
                once: new.once,
                blocking: new.blocking,
                timeout: new.timeout,
                handler: new.handler,
                on_failure: new.on_failure,
                event_type: new.event_type,
                priority: new.priority,
            });
            for key in &keys {
                self.append(state, events, guard, key, &subscriber);
            }
            state.live_links += keys.len();
            state.records.insert(
                id,
                Record {
                    subscriber: subscriber.clone(),
                    keys: keys.into_boxed_slice(),
                },
            );
            Ok(subscriber)
        })
    }

    fn unlink_locked(
        &self,
        state: &mut State,
        events: &EventMap,
        guard: &papaya::LocalGuard<'_>,
        key: &Arc<str>,
        id: SubscriptionId,
    ) {
        if events.contains_key(key, guard) {
            let mut rest = state.live_of(events, guard, key);
            rest.retain(|s| s.id != id);
            self.publish(state, events, guard, key, rest);
        }
    }

    /// Removes a subscriber from every event; `true` if it was linked.
    pub(crate) fn detach(&self, id: SubscriptionId) -> bool {
        self.locked(|state, events, guard| {
            let Some(record) = state.records.remove(&id) else {
                return false;
            };
            record.subscriber.state.end();
            state.live_links -= record.keys.len();
            for key in &record.keys {
                self.unlink_locked(state, events, guard, key, id);
            }
            true
        })
    }

    /// Removes one link; the subscriber goes when its last link does.
    pub(crate) fn unlink(&self, key: &Arc<str>, id: SubscriptionId) -> bool {
        self.locked(|state, events, guard| {
            let Some(record) = state.records.get_mut(&id) else {
                return false;
            };
            let Some(pos) = record.keys.iter().position(|k| k == key) else {
                return false;
            };
            let mut keys = std::mem::take(&mut record.keys).into_vec();
            keys.remove(pos);
            record.keys = keys.into_boxed_slice();
            if record.keys.is_empty() {
                if let Some(record) = state.records.remove(&id) {
                    record.subscriber.state.end();
                }
            }
            state.live_links -= 1;
            self.unlink_locked(state, events, guard, key, id);
            true
        })
    }

    /// Removes an event and its links; subscribers left with no link go too.
    pub(crate) fn remove_event(&self, key: &Arc<str>) -> bool {
        self.locked(|state, events, guard| {
            let Some(entry) = events.get(key, guard) else {
                return false;
            };
            for subscriber in entry.subscribers.iter() {
                // Retired subscribers have no record and are left out.
                if let Some(record) = state.records.get_mut(&subscriber.id) {
                    record.keys = record.keys.iter().filter(|k| *k != key).cloned().collect();
                    state.live_links -= 1;
                    if record.keys.is_empty() {
                        subscriber.state.end();
                        state.records.remove(&subscriber.id);
                    }
                }
            }
            self.publish(state, events, guard, key, Vec::new());
            true
        })
    }

    /// Removes everything.
    pub(crate) fn clear(&self) {
        self.locked(|state, events, guard| {
            for record in state.records.values() {
                record.subscriber.state.end();
            }
            state.records.clear();
            state.live_links = 0;
            let keys: Vec<Arc<str>> = events.iter(guard).map(|(k, _)| k.clone()).collect();
            for key in &keys {
                self.publish(state, events, guard, key, Vec::new());
            }
        })
    }

    /// Runs a read-only query over a consistent view of the registry.
    pub(crate) fn view<R: Send>(&self, f: impl FnOnce(&View<'_>) -> R + Send) -> R {
        self.locked(|state, events, guard| {
            f(&View {
                state,
                events,
                guard,
            })
        })
    }

    /// Checks the module invariants; for tests.
    #[cfg(all(test, not(ventus_loom)))]
    fn check(&self) {
        self.locked(|state, events, guard| {
            let mut dead_links = 0;
            for (key, entry) in events.iter(guard) {
                let retired = entry
                    .subscribers
                    .iter()
                    .filter(|s| !state.records.contains_key(&s.id))
                    .count();
                assert_eq!(
                    state.dead.get(&**key).copied().unwrap_or(0),
                    retired,
                    "{key}"
                );
                assert!(
                    retired < entry.subscribers.len(),
                    "{key}: only retired left"
                );
                dead_links += retired;
            }
            assert_eq!(state.dead_links, dead_links);
            assert!(state.dead.keys().all(|k| events.contains_key(k, guard)));
            let mut live_links = 0;
            for (id, record) in &state.records {
                for key in &record.keys {
                    let entry = events.get(key, guard).expect("a record's key has an entry");
                    assert!(entry.subscribers.iter().any(|s| s.id == *id));
                }
                live_links += record.keys.len();
            }
            assert_eq!(state.live_links, live_links);
            for (key, entry) in events.iter(guard) {
                assert!(
                    entry
                        .subscribers
                        .windows(2)
                        .all(|w| w[0].order() < w[1].order()),
                    "{key}: not in start order"
                );
            }
            let mut patterns: Vec<&str> = state.patterns.iter().map(|(k, _)| &**k).collect();
            let mut keys: Vec<&str> = events
                .iter(guard)
                .map(|(k, _)| &**k)
                .filter(|k| k.contains('*'))
                .collect();
            patterns.sort_unstable();
            keys.sort_unstable();
            assert_eq!(patterns, keys);
            let routes = self.routes.load(Ordering::Relaxed);
            assert_eq!(routes & ANY != 0, events.contains_key(ANY_KEY, guard));
            assert_eq!(routes & PATTERNS != 0, !patterns.is_empty());
            assert!(!patterns.is_empty() || self.matches.is_empty());
        });
    }
}

/// A consistent, read-only view of the registry for queries.
pub(crate) struct View<'a> {
    state: &'a State,
    events: &'a EventMap,
    guard: &'a papaya::LocalGuard<'a>,
}

impl View<'_> {
    pub(crate) fn keys(&self) -> Vec<Arc<str>> {
        self.events
            .iter(self.guard)
            .map(|(k, _)| k.clone())
            .collect()
    }

    pub(crate) fn event_count(&self) -> usize {
        self.events.len()
    }

    pub(crate) fn subscriber_count(&self) -> usize {
        self.state.records.len()
    }

    /// The subscribers of `key`, without retired ones.
    pub(crate) fn subscribers_of<'s>(
        &'s self,
        key: &str,
    ) -> impl Iterator<Item = &'s Arc<Subscriber>> + 's {
        let retired = self.state.dead.contains_key(key);
        let records = &self.state.records;
        self.events
            .get(key, self.guard)
            .into_iter()
            .flat_map(|e| e.subscribers.iter())
            .map(|s| &**s)
            .filter(move |s| !retired || records.contains_key(&s.id))
    }

    /// How many subscribers `key` has, without retired ones.
    pub(crate) fn subscriber_count_of(&self, key: &str) -> usize {
        self.events
            .get(key, self.guard)
            .map_or(0, |e| self.state.live_len(key, e))
    }

    pub(crate) fn all_subscribers(&self) -> Vec<Arc<Subscriber>> {
        let mut all: Vec<_> = self
            .state
            .records
            .values()
            .map(|r| r.subscriber.clone())
            .collect();
        all.sort_by_key(|s| s.id);
        all
    }

    pub(crate) fn keys_of(&self, id: SubscriptionId) -> &[Arc<str>] {
        self.state.records.get(&id).map_or(&[], |r| &r.keys[..])
    }

    pub(crate) fn contains_subscriber(&self, id: SubscriptionId) -> bool {
        self.state.records.contains_key(&id)
    }
}

#[path = "matches.rs"]
mod matches;
use self::matches::MatchMap;
pub(crate) use self::matches::Pins;

#[cfg(all(test, not(ventus_loom)))]
#[path = "registry_tests.rs"]
pub(super) mod tests;
