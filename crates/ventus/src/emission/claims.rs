//! Once-claims and names: what an emission settles with the registry's snapshot before
//! its handlers run.

use std::sync::Arc;

use super::report::EmissionReport;
use super::settings::EmitterShared;
use crate::event::{next_emission_id, EmissionId, EventName, NameRef};
use crate::linker::registry::{EventEntry, Registry, Slot};

/// What an emission needs to know about the handlers it can run.
pub(crate) struct Flags {
    /// See [`Emission::inline`](super::Emission).
    pub(crate) inline: bool,
    /// See [`Emission::needs_shared`](super::Emission).
    pub(crate) needs_shared: bool,
}

/// Claims the once-subscribers of an emission's entries for emission `id`, and works
/// out the flags over the handlers it can run; `None` if it can run none.
///
/// Each claim is one compare-and-swap; the registry, if given, is only told which
/// subscriber to unlink, later and off this path (see the registry's module docs).
/// Without it, the caller tells it with [`settle_claims`] once the emission was taken
/// or refused.
pub(crate) fn claim_once(
    registry: Option<&Registry>,
    id: u64,
    direct: Option<&Arc<EventEntry>>,
    any: Option<&Arc<EventEntry>>,
) -> Option<Flags> {
    let direct: &[Slot] = direct.map_or(&[], |e| &e.subscribers[..]);
    let any: &[Slot] = any.map_or(&[], |e| &e.subscribers[..]);
    let mut flags = Flags {
        inline: true,
        needs_shared: false,
    };
    let mut runnable = false;
    for sub in direct.iter().chain(any).map(|s| &**s) {
        let runs = if sub.once {
            // A subscriber on both lists is claimed by the first `claim`; the second
            // fails, and the first already counted it.
            let won = sub.state.claim(id);
            if let (true, Some(registry)) = (won, registry) {
                registry.retire(sub.id);
            }
            won
        } else {
            sub.state.is_active()
        };
        if runs {
            runnable = true;
            flags.inline &= sub.is_inline();
            flags.needs_shared |= sub.needs_shared();
        }
    }
    runnable.then_some(flags)
}

/// Ends emission `id`'s once-claims after its processor took or `refused` it.
///
/// On the full path an [`Emission`](super::Emission) retires a once-subscriber when it starts its handler
/// (so the handler already sees itself unlinked); this does the rest. A refused emission
/// gives back each claim whose handler it has not started, so the once-subscriber stays
/// linked for a later emission. Every other claim not started yet is retired: the
/// registry unlinks it. An id reaches the retire list only for a claim that can no
/// longer be given back, so the registry never unlinks a subscriber that is active
/// again. Off the hot path: only emissions with once-subscribers that took the full path
/// come here.
#[cold]
pub(crate) fn settle_claims(
    registry: &Registry,
    id: u64,
    refused: bool,
    direct: Option<&Arc<EventEntry>>,
    any: Option<&Arc<EventEntry>>,
) {
    let direct: &[Slot] = direct.map_or(&[], |e| &e.subscribers[..]);
    let any: &[Slot] = any.map_or(&[], |e| &e.subscribers[..]);
    for sub in direct.iter().chain(any).map(|s| &**s).filter(|s| s.once) {
        if refused && sub.state.release(id) {
            continue;
        }
        // A handler the emission started was retired when it started. A subscriber on
        // both lists, or one started on another thread since this load, may be retired
        // twice; the registry ignores the second.
        if sub.state.is_held_unstarted(id) {
            registry.retire(sub.id);
        }
    }
}

/// The emission's event name. Borrowed from the registry's snapshot when it has one: an
/// emission that stays on this thread then never touches the name's reference count,
/// which every thread emitting this event would share.
#[inline]
pub(crate) fn name_ref<'a>(
    event: &str,
    static_name: Option<&'static str>,
    direct: Option<&'a Arc<EventEntry>>,
) -> NameRef<'a> {
    match (direct, static_name) {
        (Some(entry), _) => NameRef::Borrowed {
            key: &entry.name,
            report: &entry.report_name,
        },
        (None, Some(name)) => NameRef::Owned(EventName::from_static(name)),
        (None, None) => NameRef::Owned(EventName::from_arc(Arc::from(event))),
    }
}

/// Counts (and logs, in debug) an emission of an event nobody is linked to, or whose
/// once-subscribers were all claimed earlier, and returns its report: an id of its own,
/// the name, nothing run.
#[cold]
#[inline(never)]
pub(crate) fn no_handler(
    shared: &EmitterShared,
    event: &str,
    static_name: Option<&'static str>,
) -> EmissionReport {
    shared.metrics.emitted();
    let id = next_emission_id();
    if shared.debug {
        tracing::debug!(
            event,
            emission = id,
            handlers = 0,
            "ventus emit: no handler is linked"
        );
    }
    let name = match static_name {
        Some(name) => EventName::from_static(name),
        None => EventName::copied(event, None),
    };
    EmissionReport::new(EmissionId(id), name)
}
