//! Event names: the validated name type, and the name an emission carries.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// A validated, non-empty event name that is cheap to clone.
///
/// Every event is linked and emitted by name: string events directly, typed
/// events and error events by the name of their type.
///
/// # Examples
///
/// ```
/// use ventus::EventName;
///
/// let name = EventName::new("StringEvent").unwrap();
/// assert_eq!(name, "StringEvent");
/// assert!(EventName::new("").is_err());
/// ```
#[derive(Clone)]
pub struct EventName(NameRepr);

#[derive(Clone)]
enum NameRepr {
    Static(&'static str),
    Shared(Arc<str>),
    /// A short name copied in: no allocation, and no reference count that every thread
    /// emitting the event would share. Always valid UTF-8 (a whole `&str` copied).
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
}

/// The longest name kept inline; with the length byte and the tag, no larger than the
/// other forms.
const INLINE: usize = 22;

impl EventName {
    /// Checks and wraps a name.
    ///
    /// # Errors
    ///
    /// Returns [`InvalidEventName`] if `name` is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::EventName;
    ///
    /// let name = EventName::new(String::from("Paid")).unwrap();
    /// assert_eq!(name, "Paid");
    /// let err = EventName::new("").unwrap_err();
    /// assert!(err.to_string().contains("empty"));
    /// ```
    pub fn new(name: impl AsRef<str>) -> Result<Self, InvalidEventName> {
        let name = name.as_ref();
        if name.is_empty() {
            return Err(InvalidEventName { _priv: () });
        }
        Ok(Self(NameRepr::Shared(Arc::from(name))))
    }

    pub(crate) fn from_static(name: &'static str) -> Self {
        Self(NameRepr::Static(name))
    }

    pub(crate) fn from_arc(name: Arc<str>) -> Self {
        Self(NameRepr::Shared(name))
    }

    /// The name of an emission, for its report: copied in if it is short, a share of
    /// `shared` (or a new allocation) if not.
    #[inline]
    pub(crate) fn copied(name: &str, shared: Option<&Arc<str>>) -> Self {
        if name.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..name.len()].copy_from_slice(name.as_bytes());
            return Self(NameRepr::Inline {
                len: name.len() as u8,
                bytes,
            });
        }
        Self::long(name, shared)
    }

    #[cold]
    fn long(name: &str, shared: Option<&Arc<str>>) -> Self {
        match shared {
            Some(shared) => Self(NameRepr::Shared(Arc::clone(shared))),
            None => Self(NameRepr::Shared(Arc::from(name))),
        }
    }

    /// The name as a string slice.
    ///
    /// # Examples
    ///
    /// ```
    /// let name = ventus::EventName::new("Ping").unwrap();
    /// assert_eq!(name.as_str(), "Ping");
    /// ```
    pub fn as_str(&self) -> &str {
        match &self.0 {
            NameRepr::Static(s) => s,
            NameRepr::Shared(s) => s,
            // Copied from a whole `&str`, so the check cannot fail.
            NameRepr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
        }
    }

    pub(crate) fn into_arc(self) -> Arc<str> {
        match self.0 {
            NameRepr::Static(s) => Arc::from(s),
            NameRepr::Shared(s) => s,
            NameRepr::Inline { .. } => Arc::from(self.as_str()),
        }
    }
}

impl Deref for EventName {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for EventName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for EventName {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for EventName {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for EventName {}

impl PartialEq<str> for EventName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EventName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for EventName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EventName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for EventName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned by [`EventName::new`] for an empty name.
///
/// # Examples
///
/// ```
/// let err = ventus::EventName::new("").unwrap_err();
/// assert!(err.to_string().contains("empty"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEventName {
    _priv: (),
}

impl fmt::Display for InvalidEventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("event name is empty; give the event a non-empty name")
    }
}

impl std::error::Error for InvalidEventName {}

/// An emission's event name: borrowed from the registry's snapshot while the emission
/// stays in `emit`'s frame, owned once it leaves.
pub(crate) enum NameRef<'a> {
    /// The snapshot's key and its copy for reports.
    Borrowed {
        key: &'a Arc<str>,
        report: &'a EventName,
    },
    Owned(EventName),
}

impl NameRef<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Borrowed { key, .. } => key,
            Self::Owned(name) => name.as_str(),
        }
    }

    pub(crate) fn to_owned(&self) -> EventName {
        match self {
            Self::Borrowed { key, .. } => EventName::from_arc(Arc::clone(key)),
            Self::Owned(name) => name.clone(),
        }
    }

    pub(crate) fn into_owned(self) -> EventName {
        match self {
            Self::Borrowed { key, .. } => EventName::from_arc(Arc::clone(key)),
            Self::Owned(name) => name,
        }
    }

    /// The name for the emission's report: the snapshot's report name (a copy, for a
    /// short name, so the report costs no reference count shared with every thread
    /// emitting the event).
    #[inline]
    pub(crate) fn into_report(self) -> EventName {
        match self {
            Self::Borrowed { report, .. } => (*report).clone(),
            Self::Owned(name) => name,
        }
    }
}

impl fmt::Display for NameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
