//! The id of a remote emission.

use std::fmt;

use uuid::Uuid;

/// The id of a remote emission: a UUIDv7 made by the emitter. Workers dedupe by it.
///
/// Not the in-process [`ventus::EmissionId`]: the worker's own emission of it has one
/// of those too; [`Delivery::id`](crate::Delivery::id) gives this one inside handlers.
///
/// # Examples
///
/// ```
/// let id = ventus_redis::EmissionId::from(uuid::Uuid::nil());
/// assert_eq!(id.to_string(), "00000000-0000-0000-0000-000000000000");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmissionId(pub Uuid);

impl From<Uuid> for EmissionId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for EmissionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}
