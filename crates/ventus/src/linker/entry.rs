//! An event's snapshot: its subscribers in start order, in a buffer its
//! snapshots share, and what emissions need to know about them.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use super::subscriber::Subscriber;
use crate::event::{EventName, EventType};
use crate::handler::PayloadType;

/// One place in a subscriber list, filled once, under `state`, before any snapshot
/// that covers it is published (see the module invariants). Reads as the subscriber.
pub(crate) struct Slot(OnceLock<Arc<Subscriber>>);

impl Deref for Slot {
    type Target = Arc<Subscriber>;

    #[inline]
    fn deref(&self) -> &Arc<Subscriber> {
        match self.0.get() {
            Some(subscriber) => subscriber,
            None => unfilled(),
        }
    }
}

#[cold]
#[inline(never)]
fn unfilled() -> ! {
    unreachable!("a snapshot covers only filled slots")
}

/// A snapshot's subscribers: the first `len` slots of `slots`, a buffer that the
/// snapshots of one event share while subscribes only append to it. Later snapshots
/// may have filled slots after `len`; this one never reads them.
pub(crate) struct Subscribers {
    pub(super) slots: Arc<[Slot]>,
    pub(super) len: usize,
}

impl Subscribers {
    /// A buffer of its own holding the `len` subscribers of `live`, with room for
    /// `capacity` in all.
    pub(super) fn copied(
        mut live: impl Iterator<Item = Arc<Subscriber>>,
        len: usize,
        capacity: usize,
    ) -> Self {
        #[cfg(all(test, not(ventus_loom)))]
        super::registry::tests::COPIED.with(|c| c.set(c.get() + len));
        // A mapped range: collected straight into the buffer, with one allocation.
        let slots: Arc<[Slot]> = (0..capacity.max(len))
            .map(|_| Slot(live.next().map_or_else(OnceLock::new, OnceLock::from)))
            .collect();
        debug_assert!(live.next().is_none() && slots.iter().take(len).all(|s| s.0.get().is_some()));
        Self { slots, len }
    }

    /// These subscribers and then `new`: in the shared buffer's next slot when this
    /// snapshot ends where the buffer is filled, else in a new buffer with twice the
    /// room, so that `n` appends copy fewer than `2n` subscribers in all.
    pub(super) fn appended(&self, new: Arc<Subscriber>) -> Self {
        match self.slots.get(self.len) {
            // `set` fails only if a later snapshot filled the slot already; a buffer is
            // only appended to from its event's current snapshot, which ends where the
            // buffer is filled (see the module invariants), so this is a safety net.
            Some(next) if next.0.set(Arc::clone(&new)).is_ok() => Self {
                slots: Arc::clone(&self.slots),
                len: self.len + 1,
            },
            _ => Self::copied(
                self.iter().map(|s| Arc::clone(s)).chain(Some(new)),
                self.len + 1,
                (2 * self.len).max(4),
            ),
        }
    }
}

impl Deref for Subscribers {
    type Target = [Slot];

    #[inline]
    fn deref(&self) -> &[Slot] {
        &self.slots[..self.len]
    }
}

/// An immutable snapshot of one event's subscribers, in start order.
pub(crate) struct EventEntry {
    pub(crate) name: Arc<str>,
    pub(crate) subscribers: Subscribers,
    /// Every subscriber runs inline (see [`Subscriber::is_inline`]).
    pub(crate) inline: bool,
    /// Some subscriber is a once-subscriber.
    pub(crate) has_once: bool,
    /// Some subscriber needs the payload shared.
    pub(crate) needs_shared: bool,
    /// Every subscriber runs inline, borrows the payload and has no timeout of its own:
    /// a sync-context emission may take the emitter's lean path (`emission/inline.rs`).
    pub(crate) lean: bool,
    /// Every subscriber borrows the payload (none is `blocking` or takes `AnyEvent`) and
    /// has no timeout of its own; async ones allowed: an awaited emission (`run`) may take
    /// the emitter's lean awaited path (`emission/awaited.rs`).
    pub(crate) lean_run: bool,
    /// The payload types the subscribers declare, each once; empty when none declares
    /// one (all take no argument or `AnyEvent`). An emission whose payload none of them
    /// takes is refused before any handler runs.
    pub(crate) takes: Box<[PayloadType]>,
    /// The only payload type the subscribers declare, when exactly one does: the common
    /// case, checked with one comparison.
    pub(super) takes_one: Option<std::any::TypeId>,
    /// `name` as emission reports carry it: copied inline when short (see
    /// [`EventName::copied`]), so a report never shares a reference count with the
    /// other threads emitting the event.
    pub(crate) report_name: EventName,
    /// The typed event the name belongs to: that of its subscribers made with
    /// `on_event`, which `link` keeps to one type. `emit_event` of another type is
    /// refused.
    pub(crate) event_type: Option<EventType>,
    /// `event_type`'s `TypeId`, read on every typed emission without a call.
    pub(crate) event_type_id: Option<std::any::TypeId>,
}

impl EventEntry {
    pub(super) fn new(name: Arc<str>, subscribers: Subscribers) -> Self {
        let takes = declared_types(&subscribers);
        let event_type = subscribers.iter().find_map(|s| s.event_type);
        Self {
            lean: subscribers.iter().all(|s| is_lean(s)),
            lean_run: subscribers.iter().all(|s| is_lean_run(s)),
            inline: subscribers.iter().all(|s| s.is_inline()),
            has_once: subscribers.iter().any(|s| s.once),
            needs_shared: subscribers.iter().any(|s| s.needs_shared()),
            takes_one: takes_one(&takes),
            takes,
            report_name: EventName::copied(&name, Some(&name)),
            event_type_id: event_type.map(EventType::id),
            event_type,
            name,
            subscribers,
        }
    }

    /// The entry an emission of `name` runs when patterns match it: `subscribers` (the
    /// name's own and its patterns', in start order), with the payload and typed-event
    /// checks of the name's own entry `exact` alone. A pattern's subscribers take no part
    /// in them, as "any event"'s do not: one that takes another payload type fails on
    /// its own with `HandlerErrorKind::PayloadType`, and never makes the emission refused.
    pub(super) fn merged(name: Arc<str>, subscribers: Subscribers, exact: Option<&Self>) -> Self {
        let mut entry = Self::new(name, subscribers);
        entry.takes = exact.map_or_else(Box::default, |e| e.takes.clone());
        entry.takes_one = exact.and_then(|e| e.takes_one);
        entry.event_type = exact.and_then(|e| e.event_type);
        entry.event_type_id = exact.and_then(|e| e.event_type_id);
        entry
    }

    /// This entry with `new` subscribed last, its fields worked out from this entry's
    /// and `new`'s alone: the same as [`EventEntry::new`] over the longer list.
    pub(super) fn appended(&self, new: Arc<Subscriber>) -> Self {
        let takes = match new.handler.takes {
            Some(declared) if !self.takes.contains(&declared) => {
                self.takes.iter().copied().chain(Some(declared)).collect()
            }
            _ => self.takes.clone(),
        };
        let event_type = self.event_type.or(new.event_type);
        Self {
            lean: self.lean && is_lean(&new),
            lean_run: self.lean_run && is_lean_run(&new),
            inline: self.inline && new.is_inline(),
            has_once: self.has_once || new.once,
            needs_shared: self.needs_shared || new.needs_shared(),
            takes_one: takes_one(&takes),
            takes,
            report_name: EventName::copied(&self.name, Some(&self.name)),
            event_type_id: event_type.map(EventType::id),
            event_type,
            name: Arc::clone(&self.name),
            subscribers: self.subscribers.appended(new),
        }
    }
}

/// See [`EventEntry::lean`].
fn is_lean(s: &Subscriber) -> bool {
    s.is_inline() && !s.needs_shared() && s.timeout.is_none()
}

/// See [`EventEntry::lean_run`].
fn is_lean_run(s: &Subscriber) -> bool {
    !s.needs_shared() && s.timeout.is_none()
}

/// See [`EventEntry::takes_one`].
fn takes_one(takes: &[PayloadType]) -> Option<std::any::TypeId> {
    match takes {
        [one] => Some(one.id()),
        _ => None,
    }
}

/// The payload types `subscribers` declare, each once, in subscription order.
fn declared_types(subscribers: &[Slot]) -> Box<[PayloadType]> {
    let mut types: Vec<PayloadType> = Vec::new();
    for declared in subscribers.iter().filter_map(|s| s.handler.takes) {
        if !types.contains(&declared) {
            types.push(declared);
        }
    }
    types.into_boxed_slice()
}

impl EventEntry {
    /// Whether an emission with a payload of type `given` (`None`: without one) may
    /// run: some subscriber takes it, or none declares a payload type.
    #[inline]
    pub(crate) fn accepts(&self, given: Option<std::any::TypeId>) -> bool {
        match self.takes_one {
            Some(one) => one == given.unwrap_or(std::any::TypeId::of::<()>()),
            None => {
                let given = given.unwrap_or(std::any::TypeId::of::<()>());
                self.takes.is_empty() || self.takes.iter().any(|t| t.id() == given)
            }
        }
    }
}
