//! Unit tests of the registry.

use std::cell::Cell;

use crate::handler::PayloadType;

use super::*;

thread_local! {
    /// How many subscribers this thread has copied into new buffers.
    pub(crate) static COPIED: Cell<usize> = const { Cell::new(0) };
}

fn key(name: &str) -> Arc<str> {
    Arc::from(name)
}

fn link(registry: &Registry, keys: &[&str], once: bool) -> Arc<Subscriber> {
    registry
        .link(
            keys.iter().map(|k| key(k)).collect(),
            None,
            NewSubscriber {
                once,
                blocking: false,
                timeout: None,
                handler: ErasedHandler::noop(),
                on_failure: None,
                event_type: None,
                priority: 0,
            },
        )
        .unwrap()
}

/// What an emission does to a once-subscriber it claims.
fn fire(registry: &Registry, sub: &Subscriber, emission: u64) {
    assert!(sub.state.claim(emission));
    registry.retire(sub.id);
}

fn snapshot_len(registry: &Registry, name: &str) -> usize {
    let guard = registry.events.guard();
    registry
        .events
        .get(name, &guard)
        .map_or(0, |e| e.subscribers.len())
}

fn ids(registry: &Registry, name: &str) -> Vec<SubscriptionId> {
    registry.view(|v| v.subscribers_of(name).map(|s| s.id).collect())
}

#[test]
fn a_fired_subscriber_is_unlinked_by_the_next_operation_and_compacted_by_writes() {
    let registry = Registry::new();
    let once = link(&registry, &["A", "B", "C"], true);
    // Enough live links that the two dead ones stay below the sweep threshold.
    let p = link(&registry, &["B", "E", "F"], false);
    let q = link(&registry, &["A", "D", "E", "F"], false);
    fire(&registry, &once, 1);
    // Only claimed: the snapshots are as they were.
    assert_eq!(snapshot_len(&registry, "A"), 2);

    registry.check();
    assert!(!registry.view(|v| v.contains_subscriber(once.id)));
    assert_eq!(registry.view(|v| v.subscriber_count()), 2);
    assert_eq!(ids(&registry, "A"), [q.id]);
    assert_eq!(ids(&registry, "B"), [p.id]);
    assert_eq!(registry.view(|v| v.subscriber_count_of("B")), 1);
    // `C` had only the fired subscriber: gone. `A` and `B` keep it in their
    // snapshots until a write to them.
    assert_eq!(registry.view(|v| v.event_count()), 5);
    assert_eq!(snapshot_len(&registry, "C"), 0);
    assert_eq!(snapshot_len(&registry, "A"), 2);

    // A write to `A` compacts it; `B` still holds the dead entry.
    let r = link(&registry, &["A"], false);
    registry.check();
    assert_eq!(snapshot_len(&registry, "A"), 2);
    assert_eq!(ids(&registry, "A"), [q.id, r.id]);
    assert_eq!(snapshot_len(&registry, "B"), 2);

    // Removing the last live subscriber of `B` removes `B`, dead entry and all.
    assert!(registry.unlink(&key("B"), p.id));
    registry.check();
    assert_eq!(snapshot_len(&registry, "B"), 0);
    assert!(registry.view(|v| v.keys()).iter().all(|k| &**k != "B"));
}

#[test]
fn removals_and_clear_drop_dead_entries() {
    let registry = Registry::new();
    let once = link(&registry, &["A", "B"], true);
    let a = link(&registry, &["A"], false);
    let b = link(&registry, &["B"], false);
    fire(&registry, &once, 1);
    assert!(registry.remove_event(&key("A")));
    registry.check();
    assert!(!registry.view(|v| v.contains_subscriber(a.id)));
    assert!(!a.state.is_active());
    assert!(registry.detach(b.id));
    registry.check();
    assert!(registry.events.is_empty());

    let once = link(&registry, &["A", "B"], true);
    link(&registry, &["A", "B"], false);
    fire(&registry, &once, 2);
    registry.clear();
    registry.check();
    assert!(registry.events.is_empty());
    assert_eq!(registry.view(|v| v.subscriber_count()), 0);
}

/// A subscriber claimed by an emission that has not told the registry yet, and
/// removed meanwhile: the late `retire` finds no record and does nothing.
#[test]
fn a_late_retire_after_a_removal_is_ignored() {
    let registry = Registry::new();
    let once = link(&registry, &["A", "B"], true);
    let keep = link(&registry, &["B"], false);
    assert!(once.state.claim(1));
    assert!(registry.unlink(&key("B"), once.id));
    assert!(registry.remove_event(&key("A")));
    registry.retire(once.id);
    registry.check();
    assert_eq!(ids(&registry, "B"), [keep.id]);
    assert_eq!(registry.view(|v| v.subscriber_count()), 1);
}

/// Dead entries never pass half of the live links for long: the next operation
/// after they do sweeps every snapshot that holds them.
#[test]
fn a_sweep_bounds_the_dead_entries() {
    let registry = Registry::new();
    let events = ["A", "B", "C", "D"];
    let mut live = Vec::new();
    for _ in 0..10 {
        live.push(link(&registry, &events, false));
    }
    let once: Vec<_> = (0..30).map(|_| link(&registry, &events, true)).collect();
    for (n, sub) in once.iter().enumerate() {
        fire(&registry, sub, n as u64 + 1);
        registry.check();
        registry.locked(|state, _, _| {
            assert!(state.dead_links <= state.live_links / 2);
        });
    }
    registry.locked(|state, _, _| {
        assert!(state.dead_links <= state.live_links / 2);
        assert_eq!(state.live_links, 10 * events.len());
    });
    for e in events {
        assert!(snapshot_len(&registry, e) <= 10 + 5, "{e}");
        assert_eq!(registry.view(|v| v.subscriber_count_of(e)), 10);
    }
}

fn entry(registry: &Registry, name: &str) -> Arc<EventEntry> {
    let guard = registry.events.guard();
    registry.events.get(name, &guard).unwrap().clone()
}

fn ids_of(subscribers: &Subscribers) -> Vec<SubscriptionId> {
    subscribers.iter().map(|s| s.id).collect()
}

/// Subscribing `S` handlers to one event copies O(S) subscribers in all: each
/// subscribe appends, and only a full buffer is copied, into one of twice the room.
/// Copying the list on each subscribe would copy about `S²/2`.
#[test]
fn subscribing_to_one_event_copies_o_s_subscribers() {
    const S: usize = 10_000;
    let registry = Registry::new();
    let any = link(&registry, &[ANY_KEY, "B"], false);
    COPIED.with(|c| c.set(0));
    let mut linked = Vec::new();
    for n in 0..S {
        // Some subscribers on two events, so that both buffers grow in turn.
        let keys: &[&str] = if n % 3 == 0 { &["A", "B"] } else { &["A"] };
        linked.push(link(&registry, keys, n % 7 == 0));
    }
    let copied = COPIED.with(Cell::get);
    let links = S + S.div_ceil(3);
    assert!(
        copied <= 4 * links,
        "{copied} subscribers copied for {links} links"
    );
    let expected: Vec<_> = linked.iter().map(|s| s.id).collect();
    assert_eq!(ids(&registry, "A"), expected);
    assert_eq!(ids_of(&entry(&registry, "A").subscribers), expected);
    let on_b: Vec<_> = std::iter::once(any.id)
        .chain(linked.iter().step_by(3).map(|s| s.id))
        .collect();
    assert_eq!(ids(&registry, "B"), on_b);
    assert_eq!(registry.view(|v| v.subscriber_count_of("A")), S);
}

/// An append shares the replaced snapshot's buffer and leaves that snapshot as it
/// was; appending to a replaced snapshot again, whose next slot is taken, copies.
#[test]
fn an_append_leaves_the_replaced_snapshot_as_it_was() {
    let registry = Registry::new();
    let a = link(&registry, &["A"], false);
    // The second subscriber outgrows the first buffer (room for one): a copy with
    // room for four.
    let b = link(&registry, &["A"], false);
    let old = entry(&registry, "A");
    let c = link(&registry, &["A"], false);
    let new = entry(&registry, "A");
    assert!(Arc::ptr_eq(&old.subscribers.slots, &new.subscribers.slots));
    assert_eq!(ids_of(&old.subscribers), [a.id, b.id]);
    assert_eq!(ids_of(&new.subscribers), [a.id, b.id, c.id]);
    assert!(!old.has_once && !new.has_once);

    let d = link(&registry, &["Other"], true);
    let forked = old.appended(d.clone());
    assert!(!Arc::ptr_eq(
        &forked.subscribers.slots,
        &old.subscribers.slots
    ));
    assert_eq!(ids_of(&forked.subscribers), [a.id, b.id, d.id]);
    assert!(forked.has_once);
    assert_eq!(ids_of(&new.subscribers), [a.id, b.id, c.id]);
    assert_eq!(ids_of(&old.subscribers), [a.id, b.id]);

    // Filling the shared buffer to its end, then once more: a copy.
    let e = link(&registry, &["A"], false);
    let full = entry(&registry, "A");
    assert!(Arc::ptr_eq(&full.subscribers.slots, &old.subscribers.slots));
    let f = link(&registry, &["A"], false);
    let grown = entry(&registry, "A");
    assert!(!Arc::ptr_eq(
        &grown.subscribers.slots,
        &full.subscribers.slots
    ));
    assert_eq!(grown.subscribers.slots.len(), 8);
    assert_eq!(ids_of(&grown.subscribers), [a.id, b.id, c.id, e.id, f.id]);
    assert_eq!(ids_of(&full.subscribers), [a.id, b.id, c.id, e.id]);
    registry.check();
}

/// A subscriber of one of a few kinds, for comparing entries' fields.
fn kind(n: usize, id: u64) -> Arc<Subscriber> {
    let mut handler = ErasedHandler::noop();
    handler.takes = match n % 4 {
        0 => None,
        1 => Some(PayloadType::of::<u32>()),
        2 => Some(PayloadType::of::<String>()),
        _ => Some(PayloadType::of::<u32>()),
    };
    handler.wants_any_event = n % 11 == 5;
    Arc::new(Subscriber {
        id: SubscriptionId(id),
        state: ClaimState::new(),
        once: n % 5 == 1,
        blocking: n % 7 == 3,
        timeout: (n % 9 == 4).then(|| Duration::from_secs(1)),
        handler,
        on_failure: None,
        event_type: (n % 6 == 2).then(EventType::of::<u8>),
        priority: 0,
    })
}

fn fields(e: &EventEntry) -> impl PartialEq + std::fmt::Debug {
    (
        (e.lean, e.lean_run, e.inline, e.has_once, e.needs_shared),
        e.takes.iter().map(|t| t.id()).collect::<Vec<_>>(),
        e.takes_one,
        e.event_type_id,
        e.event_type.map(EventType::name),
        (e.report_name.as_str().to_owned(), e.name.clone()),
        ids_of(&e.subscribers),
    )
}

/// An appended entry's fields, worked out from the old entry and the new
/// subscriber, are those of an entry built over the whole list.
#[test]
fn appended_entries_have_the_fields_of_built_ones() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..300 {
        let mut list = Vec::new();
        let mut built = None::<EventEntry>;
        for i in 0..12 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let new = kind((seed % 1_000) as usize, i + 1);
            list.push(new.clone());
            let appended = match &built {
                Some(entry) => entry.appended(new),
                None => EventEntry::new(key("E"), Subscribers::copied(list.iter().cloned(), 1, 1)),
            };
            let fresh = EventEntry::new(
                key("E"),
                Subscribers::copied(list.iter().cloned(), list.len(), list.len()),
            );
            assert_eq!(fields(&appended), fields(&fresh));
            built = Some(appended);
        }
    }
}

#[test]
fn max_subscribers_counts_live_subscribers_only() {
    let registry = Registry::new();
    let once = link(&registry, &["A"], true);
    link(&registry, &["A"], false);
    fire(&registry, &once, 1);
    let full = |registry: &Registry| {
        registry
            .link(
                vec![key("A")],
                Some(2),
                NewSubscriber {
                    once: false,
                    blocking: false,
                    timeout: None,
                    handler: ErasedHandler::noop(),
                    on_failure: None,
                    event_type: None,
                    priority: 0,
                },
            )
            .is_err()
    };
    assert!(!full(&registry), "one live subscriber of two allowed");
    assert!(full(&registry));
    registry.check();
}

/// An emission's lookup made under this registry's own lock (as a `Drop` run there
/// during thread-local destruction may make) resolves its patterns without taking the
/// lock again, instead of deadlocking.
#[test]
fn a_lookup_under_the_lock_resolves_patterns_without_it() {
    let registry = Arc::new(Registry::new());
    let exact = link(&registry, &["a.b"], false);
    let pattern = link(&registry, &["a.*"], false);
    link(&registry, &["x.*"], false);
    let (done, finished) = std::sync::mpsc::channel();
    let inner = Arc::clone(&registry);
    std::thread::spawn(move || {
        let ids = inner.locked(|_, _, _| {
            let pins = inner.pin();
            let (direct, _) = inner.lookup("a.b", &pins);
            direct.map(|e| ids_of(&e.subscribers))
        });
        let _ = done.send(ids);
    });
    let ids = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("the lookup under the lock returned");
    assert_eq!(ids, Some(vec![exact.id, pattern.id]));
    // Not kept: the shared map has nothing for the name.
    assert!(registry.matches.is_empty());
    registry.check();
}
