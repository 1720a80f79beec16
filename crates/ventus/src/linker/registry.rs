//! The registry behind an [`EventLinker`](super::EventLinker).
//!
//! # Invariants
//!
//! - `events` maps an event key to an immutable [`EventEntry`] snapshot. It is written
//!   only while `state` is locked, so writers are serialised; readers (emissions) never
//!   lock and see either the old or the new snapshot of an event.
//! - The any-event target is stored under the key `""`, which no user event can have
//!   (empty names are rejected), and `has_any` says whether that key is present.
//! - A subscriber in an entry has a record in `state.records` listing that entry's key,
//!   and the other way round. Subscriber lists are sorted by subscription id: ids only
//!   grow and a subscriber is linked only when it is created.
//! - No entry is empty: removing the last subscriber of an event removes the event.
//!
//! # Deadlock safety
//!
//! There is one lock, `state`, and no user code runs while it is held. The only user
//! code that could run there is the drop of a handler (its captured values), when the
//! registry drops its last reference to a subscriber. [`Subscriber`]'s `Drop` defers
//! that to the end of [`Registry::locked`], after the lock is released.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::claim::ClaimState;
use crate::event::EventTarget;
use crate::handler::{ErasedHandler, FailureCallback};
use crate::subscription::SubscriptionId;

use super::error::SubscribeError;

type Hasher = foldhash::fast::RandomState;
pub(crate) type EventMap = papaya::HashMap<Arc<str>, Arc<EventEntry>, Hasher>;

/// The key of the any-event target.
pub(crate) const ANY_KEY: &str = "";

/// One linked handler with its options.
pub(crate) struct Subscriber {
    pub(crate) id: SubscriptionId,
    pub(crate) state: ClaimState,
    pub(crate) once: bool,
    pub(crate) blocking: bool,
    /// Longer than this and the handler takes the failure path.
    pub(crate) timeout: Option<Duration>,
    pub(crate) handler: ErasedHandler,
    pub(crate) on_failure: Option<Arc<FailureCallback>>,
}

impl Subscriber {
    /// Runs on the caller's thread without a runtime: sync and not `blocking`.
    pub(crate) fn is_inline(&self) -> bool {
        !self.blocking && !self.handler.is_async()
    }

    /// Needs the payload shared (`Arc`) rather than borrowed.
    pub(crate) fn needs_shared(&self) -> bool {
        self.blocking || self.handler.wants_any_event
    }
}

thread_local! {
    /// How many registry locks this thread is inside.
    static LOCK_DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Handlers whose drop was deferred until this thread leaves the registry lock.
    static DEFERRED: RefCell<Vec<Deferred>> = const { RefCell::new(Vec::new()) };
}

type Deferred = (ErasedHandler, Option<Arc<FailureCallback>>);

impl Drop for Subscriber {
    fn drop(&mut self) {
        if LOCK_DEPTH.with(Cell::get) == 0 {
            return;
        }
        let handler = std::mem::replace(&mut self.handler, ErasedHandler::noop());
        let on_failure = self.on_failure.take();
        DEFERRED.with(|d| d.borrow_mut().push((handler, on_failure)));
    }
}

/// Marks this thread as inside the registry lock; on drop, runs the deferred drops.
struct DeferDrops;

impl DeferDrops {
    fn enter() -> Self {
        LOCK_DEPTH.with(|d| d.set(d.get() + 1));
        DeferDrops
    }
}

impl Drop for DeferDrops {
    fn drop(&mut self) {
        let depth = LOCK_DEPTH.with(|d| {
            let depth = d.get() - 1;
            d.set(depth);
            depth
        });
        if depth == 0 {
            // Taken out first: the drops below may subscribe again and defer more.
            let deferred = DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut()));
            drop(deferred);
        }
    }
}

/// An immutable snapshot of one event's subscribers, in subscription order.
pub(crate) struct EventEntry {
    pub(crate) name: Arc<str>,
    pub(crate) subscribers: Box<[Arc<Subscriber>]>,
    /// Every subscriber runs inline (see [`Subscriber::is_inline`]).
    pub(crate) inline: bool,
    /// Some subscriber is a once-subscriber.
    pub(crate) has_once: bool,
    /// Some subscriber needs the payload shared.
    pub(crate) needs_shared: bool,
    /// Every subscriber runs inline, borrows the payload and has no timeout of its own:
    /// a sync-context emission may take the emitter's lean path (`emitter/lean.rs`).
    pub(crate) lean: bool,
    /// Every subscriber borrows the payload (none is `blocking` or takes `AnyEvent`) and
    /// has no timeout of its own; async ones allowed: an awaited emission (`run`) may take
    /// the emitter's lean awaited path (`emitter/awaited.rs`).
    pub(crate) lean_run: bool,
}

impl EventEntry {
    fn new(name: Arc<str>, subscribers: Box<[Arc<Subscriber>]>) -> Self {
        Self {
            lean: subscribers
                .iter()
                .all(|s| s.is_inline() && !s.needs_shared() && s.timeout.is_none()),
            lean_run: subscribers
                .iter()
                .all(|s| !s.needs_shared() && s.timeout.is_none()),
            inline: subscribers.iter().all(|s| s.is_inline()),
            has_once: subscribers.iter().any(|s| s.once),
            needs_shared: subscribers.iter().any(|s| s.needs_shared()),
            name,
            subscribers,
        }
    }
}

/// What the lock guards: who is linked to what.
#[derive(Default)]
struct State {
    records: std::collections::HashMap<SubscriptionId, Record, Hasher>,
    next_id: u64,
}

struct Record {
    subscriber: Arc<Subscriber>,
    keys: Vec<Arc<str>>,
}

/// Events and subscribers of one linker.
pub(crate) struct Registry {
    /// Published snapshots; see the module invariants.
    pub(crate) events: EventMap,
    /// Whether `events` holds the any-event key. Written under `state`.
    has_any: AtomicBool,
    /// Serialises writers and holds the subscriber records.
    state: Mutex<State>,
}

/// The options of a new subscriber.
pub(crate) struct NewSubscriber {
    pub(crate) once: bool,
    pub(crate) blocking: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) handler: ErasedHandler,
    pub(crate) on_failure: Option<Arc<FailureCallback>>,
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
            has_any: AtomicBool::new(false),
            state: Mutex::new(State {
                records: Default::default(),
                next_id: 1,
            }),
        }
    }

    /// Whether any-event subscribers may exist; a `false` here lets emissions skip
    /// the second lookup.
    pub(crate) fn has_any(&self) -> bool {
        // Acquire pairs with the Release store in `publish`: an emission that starts after
        // `subscribe` returned sees the any-event entry.
        self.has_any.load(Ordering::Acquire)
    }

    fn locked<R>(&self, f: impl FnOnce(&mut State, &EventMap, &papaya::LocalGuard<'_>) -> R) -> R {
        // Declared in this order so they drop in reverse: the lock first, then the
        // map guard, then the deferred handler drops, with no lock held.
        let _defer = DeferDrops::enter();
        let guard = self.events.guard();
        let mut state = self.state.lock();
        f(&mut state, &self.events, &guard)
    }

    /// Publishes `subscribers` as the entry of `key`, or removes the key if empty.
    fn publish(
        &self,
        events: &EventMap,
        guard: &papaya::LocalGuard<'_>,
        key: &Arc<str>,
        subscribers: Vec<Arc<Subscriber>>,
    ) {
        if subscribers.is_empty() {
            events.remove(key, guard);
        } else {
            let entry = EventEntry::new(key.clone(), subscribers.into_boxed_slice());
            events.insert(key.clone(), Arc::new(entry), guard);
        }
        if key.is_empty() {
            // Release: see `has_any`.
            self.has_any
                .store(events.contains_key(ANY_KEY, guard), Ordering::Release);
        }
    }

    /// Links a new subscriber to every key, or to none if one key is full.
    pub(crate) fn link(
        &self,
        keys: Vec<Arc<str>>,
        max_subscribers: Option<usize>,
        new: NewSubscriber,
    ) -> Result<Arc<Subscriber>, SubscribeError> {
        self.locked(|state, events, guard| {
            for key in &keys {
                let len = events.get(key, guard).map_or(0, |e| e.subscribers.len());
                if let Some(max) = max_subscribers {
                    if len >= max {
                        return Err(SubscribeError::TooManySubscribers {
                            event: target_of(key).to_string(),
                            max,
                        });
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
            });
            for key in &keys {
                let mut subscribers = events
                    .get(key, guard)
                    .map(|e| e.subscribers.to_vec())
                    .unwrap_or_default();
                subscribers.push(subscriber.clone());
                self.publish(events, guard, key, subscribers);
            }
            state.records.insert(
                id,
                Record {
                    subscriber: subscriber.clone(),
                    keys,
                },
            );
            Ok(subscriber)
        })
    }

    fn unlink_locked(
        &self,
        events: &EventMap,
        guard: &papaya::LocalGuard<'_>,
        key: &Arc<str>,
        id: SubscriptionId,
    ) {
        if let Some(entry) = events.get(key, guard) {
            let rest: Vec<_> = entry
                .subscribers
                .iter()
                .filter(|s| s.id != id)
                .cloned()
                .collect();
            self.publish(events, guard, key, rest);
        }
    }

    /// Removes a subscriber from every event; `true` if it was linked.
    pub(crate) fn detach(&self, id: SubscriptionId) -> bool {
        self.locked(|state, events, guard| {
            let Some(record) = state.records.remove(&id) else {
                return false;
            };
            record.subscriber.state.end();
            for key in &record.keys {
                self.unlink_locked(events, guard, key, id);
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
            record.keys.remove(pos);
            if record.keys.is_empty() {
                if let Some(record) = state.records.remove(&id) {
                    record.subscriber.state.end();
                }
            }
            self.unlink_locked(events, guard, key, id);
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
                if let Some(record) = state.records.get_mut(&subscriber.id) {
                    record.keys.retain(|k| k != key);
                    if record.keys.is_empty() {
                        subscriber.state.end();
                        state.records.remove(&subscriber.id);
                    }
                }
            }
            self.publish(events, guard, key, Vec::new());
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
            let keys: Vec<Arc<str>> = events.iter(guard).map(|(k, _)| k.clone()).collect();
            for key in &keys {
                self.publish(events, guard, key, Vec::new());
            }
        })
    }

    /// Runs a read-only query over a consistent view of the registry.
    pub(crate) fn view<R>(&self, f: impl FnOnce(&View<'_>) -> R) -> R {
        self.locked(|state, events, guard| {
            f(&View {
                state,
                events,
                guard,
            })
        })
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

    pub(crate) fn subscribers_of(&self, key: &str) -> &[Arc<Subscriber>] {
        self.events
            .get(key, self.guard)
            .map_or(&[], |e| &e.subscribers[..])
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
