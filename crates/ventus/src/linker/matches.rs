//! What an emission of a name runs while patterns are linked: the name's own
//! subscribers and those of every pattern that matches it, as one entry per name,
//! worked out once and kept until the registry changes.
//!
//! # Invariants
//!
//! - `matches` maps an emitted name to its resolved entry: `None` when nothing is linked
//!   to it, the name's own snapshot when no pattern matches it, else a new entry named
//!   after it with the live subscribers of the name and of each matching pattern, in
//!   start order, each once. It is written only under `state`: by [`Registry::resolve`],
//!   which works the entry out from the snapshots as they are then, and by `wrote`,
//!   which, after every write to `events` and before `state` is released, removes the
//!   entries that hold the written key's subscribers: the name's own entry for an exact
//!   key, the entries of every name a pattern matches for a pattern key ("any event" is
//!   in none). So an entry found in `matches` reflects every write made before it is
//!   read, and one made concurrently or not, as any snapshot does: an emission that
//!   starts after `subscribe` returned sees the new subscriber, wherever it is linked.
//! - It is empty while no pattern is linked: the write that removes the last pattern
//!   clears it, and `resolve` adds to it only while a pattern is linked. So the emit
//!   path never reads it then (`routes` says so), and a write costs one check of its
//!   length.
//! - It holds at most [`MAX_NAMES`] names; `resolve` clears it when it is full, so a
//!   stream of distinct names costs a resolve (a lock and one match per pattern) per
//!   new name, and the kept names are worked out again as they are next emitted.
//!
//! Emissions read it without a lock, pinned by a guard of its own (`papaya` guards
//! belong to one map), which [`Pins`] makes only when patterns are linked.
//!
//! # Deadlock safety
//!
//! `resolve` takes `state` as every write does, runs no user code under it (handlers
//! dropped with an entry are deferred, as in `Registry::locked`), and is only called by
//! emissions, which hold no registry lock.

use std::cell::OnceCell;
use std::sync::Arc;

use super::{
    EventEntry, EventMap, Hasher, Registry, State, Subscriber, Subscribers, ANY, PATTERNS,
};
use crate::linker::pattern::{is_pattern, Pattern};
use crate::linker::subscriber::{inside_lock, DeferDrops};

/// See the module docs.
pub(crate) type MatchMap = papaya::HashMap<Arc<str>, Option<Arc<EventEntry>>, Hasher>;

/// The most names [`MatchMap`] holds at once.
const MAX_NAMES: usize = 4096;

/// What an emission pins while it reads the registry, decided by the `routes` it read
/// when pinning: with no pattern linked, the guard of `events`, entered at once, as
/// before patterns existed; with patterns, the guards of `events` and of `matches`,
/// each entered when first needed (a guard costs a fence), so that an emission of a
/// name without "any event" enters only that of `matches`.
pub(crate) enum Pins<'r> {
    Plain {
        events: papaya::LocalGuard<'r>,
        any: bool,
    },
    Patterns {
        registry: &'r Registry,
        any: bool,
        events: OnceCell<papaya::LocalGuard<'r>>,
        matches: OnceCell<papaya::LocalGuard<'r>>,
        /// An entry resolved for this emission alone (see `resolve_unlocked`).
        unshared: OnceCell<Arc<EventEntry>>,
    },
}

impl<'r> Pins<'r> {
    /// Pins for an emission, given `routes` as just read.
    #[inline(always)]
    pub(super) fn new(registry: &'r Registry, routes: u8) -> Self {
        let any = routes & ANY != 0;
        if routes & PATTERNS == 0 {
            Self::Plain {
                events: registry.events.guard(),
                any,
            }
        } else {
            Self::Patterns {
                registry,
                any,
                events: OnceCell::new(),
                matches: OnceCell::new(),
                unshared: OnceCell::new(),
            }
        }
    }

    /// Whether "any event" had subscribers when pinned.
    #[inline(always)]
    pub(super) fn any(&self) -> bool {
        match self {
            Self::Plain { any, .. } | Self::Patterns { any, .. } => *any,
        }
    }

    /// The guard of `events`.
    #[inline]
    pub(super) fn events(&self) -> &papaya::LocalGuard<'r> {
        match self {
            Self::Plain { events, .. } => events,
            Self::Patterns {
                registry, events, ..
            } => events.get_or_init(|| registry.events.guard()),
        }
    }

    /// The guard of `matches`; `None` when pinned with no pattern linked.
    #[inline(always)]
    fn matches(&self) -> Option<&papaya::LocalGuard<'r>> {
        match self {
            Self::Plain { .. } => None,
            Self::Patterns {
                registry, matches, ..
            } => Some(matches.get_or_init(|| registry.matches.guard())),
        }
    }
}

impl Registry {
    /// The entry an emission of `event` runs while patterns are linked.
    #[inline(always)]
    pub(super) fn matched<'g, 'r: 'g>(
        &'r self,
        event: &str,
        pins: &'g Pins<'r>,
    ) -> Option<&'g Arc<EventEntry>> {
        let Some(guard) = pins.matches() else {
            return self.events.get(event, pins.events());
        };
        match self.matches.get(event, guard) {
            Some(entry) => entry.as_ref(),
            None => self.resolve(event, pins, guard),
        }
    }

    /// Works out and keeps the entry of a name not in `matches`.
    #[cold]
    #[inline(never)]
    fn resolve<'g, 'r: 'g>(
        &'r self,
        event: &str,
        pins: &'g Pins<'r>,
        guard: &'g papaya::LocalGuard<'r>,
    ) -> Option<&'g Arc<EventEntry>> {
        if inside_lock() {
            // A `Drop` run under some registry lock (during thread-local destruction,
            // where drops cannot be deferred) that emits: this registry's lock may be
            // the one held. Worked out without it, and not kept.
            return self.resolve_unlocked(event, pins);
        }
        // Declared first, so that it drops last: after the lock.
        let _defer = DeferDrops::enter();
        let mut state = self.state.lock();
        self.settle(&mut state, &self.events, pins.events());
        if state.patterns.is_empty() {
            // The last pattern went since the caller looked: the name's own snapshot.
            return self.events.get(event, pins.events());
        }
        if let Some(entry) = self.matches.get(event, guard) {
            // Another emission of the name resolved it first.
            return entry.as_ref();
        }
        let entry = state.resolved(&self.events, pins.events(), event);
        if self.matches.len() >= MAX_NAMES {
            self.matches.clear(guard);
        }
        self.matches.insert(Arc::from(event), entry, guard);
        // Only writers under `state` change `matches`, and this thread holds it.
        self.matches.get(event, guard).and_then(Option::as_ref)
    }
}

impl Registry {
    /// [`resolve`](Self::resolve) without `state`: the patterns are found among the keys
    /// of `events` (every key with a `*` is one), and retired subscribers are left in
    /// (emissions skip them). The entry is kept in `pins` for this emission only: a
    /// cold path, for emissions from drops under a registry lock.
    #[cold]
    fn resolve_unlocked<'g, 'r: 'g>(
        &'r self,
        event: &str,
        pins: &'g Pins<'r>,
    ) -> Option<&'g Arc<EventEntry>> {
        let events_guard = pins.events();
        let exact = if is_pattern(event) {
            None
        } else {
            self.events.get(event, events_guard)
        };
        let mut subscribers: Vec<_> = exact
            .iter()
            .flat_map(|e| e.subscribers.iter().map(|s| Arc::clone(s)))
            .collect();
        let mut matched = false;
        for (key, entry) in self.events.iter(events_guard) {
            let Ok(Some(pattern)) = Pattern::parse(key) else {
                continue;
            };
            if pattern.matches(event) {
                matched = true;
                subscribers.extend(entry.subscribers.iter().map(|s| Arc::clone(s)));
            }
        }
        if !matched {
            return exact;
        }
        let entry = merge(event, subscribers, exact.map(|e| &**e))?;
        match pins {
            Pins::Patterns { unshared, .. } => Some(unshared.get_or_init(|| entry)),
            Pins::Plain { .. } => unreachable!("`matched` resolves only with patterns pinned"),
        }
    }
}

impl State {
    /// The entry an emission of `name` runs: see the module docs.
    fn resolved(
        &self,
        events: &EventMap,
        guard: &papaya::LocalGuard<'_>,
        name: &str,
    ) -> Option<Arc<EventEntry>> {
        // Every key with a `*` is a pattern's (`link` refuses other uses), which the
        // patterns below cover if they match it.
        let exact = if is_pattern(name) {
            None
        } else {
            events.get(name, guard)
        };
        let mut matching = self
            .patterns
            .iter()
            .filter(|(_, pattern)| pattern.matches(name))
            .map(|(key, _)| key)
            .peekable();
        if matching.peek().is_none() {
            return exact.cloned();
        }
        let mut subscribers = match exact {
            Some(_) => self.live_of(events, guard, name),
            None => Vec::new(),
        };
        for key in matching {
            subscribers.extend(self.live_of(events, guard, key));
        }
        merge(name, subscribers, exact.map(|e| &**e))
    }
}

/// The entry of `name` over `subscribers` (its own and its patterns', as gathered),
/// in start order, each once; `None` if there are none. Its checks are `exact`'s (see
/// [`EventEntry::merged`]).
fn merge(
    name: &str,
    mut subscribers: Vec<Arc<Subscriber>>,
    exact: Option<&EventEntry>,
) -> Option<Arc<EventEntry>> {
    // A subscriber linked to the name and to patterns (or to several) comes once: its
    // copies are equal in start order, so neighbours once sorted.
    subscribers.sort_unstable_by_key(|s| s.order());
    subscribers.dedup_by_key(|s| s.id);
    let len = subscribers.len();
    (len > 0).then(|| {
        let subscribers = Subscribers::copied(subscribers.into_iter(), len, len);
        Arc::new(EventEntry::merged(Arc::from(name), subscribers, exact))
    })
}
