//! Events: names, typed event objects, error events and "any event".

mod id;
mod name;

use std::any::type_name;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use std::marker::PhantomData;

pub(crate) use self::id::next_emission_id;
pub use self::id::{EmissionId, SubscriptionId};
pub(crate) use self::name::NameRef;
pub use self::name::{EventName, InvalidEventName};

/// A typed event object: a value whose type names the event.
///
/// Emitting an `Event` with [`EventEmitter::emit_event`](crate::EventEmitter::emit_event)
/// runs the handlers linked to [`Event::name`]; each receives the value as its payload.
/// The name defaults to the type's own name without its module path
/// (`OrderCreated` for `shop::OrderCreated`), as Pyventus names dataclass events after
/// their class. Override [`Event::name`] (or, with the derive, `#[event(name = "...")]`)
/// to choose another.
///
/// # One type per name
///
/// In a linker, a name belongs to at most one typed event at a time: the type of the
/// subscriptions made with [`on_event`](crate::EventLinker::on_event) to it. Subscribing
/// another type with the same name (`users::Created` beside `shop::Created`) fails with
/// [`SubscribeError::NameCollision`](crate::SubscribeError::NameCollision), naming both
/// types, and [`emit_event`](crate::EventEmitter::emit_event) of a type whose name
/// belongs to another fails with
/// [`EmitError::NameCollision`](crate::EmitError::NameCollision), handing the event back;
/// no handler runs. Give one of them its own name. Subscribing to the name as a string
/// (`linker.on("Created")`) is always allowed, and claims the name for no type.
///
/// # Examples
///
/// ```
/// use ventus::{Event, EventLinker, TokioEventEmitter};
///
/// #[derive(Debug, Clone)]
/// struct OrderCreated {
///     id: u64,
/// }
///
/// impl Event for OrderCreated {}
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker
///     .on_event::<OrderCreated>()
///     .subscribe(|order: &OrderCreated| assert_eq!(order.id, 7))?;
///
/// let emitter = TokioEventEmitter::with_linker(&linker);
/// emitter.emit_event(OrderCreated { id: 7 })?;
/// assert_eq!(OrderCreated::name(), "OrderCreated");
/// # Ok(())
/// # }
/// ```
pub trait Event: Send + Sync + 'static {
    /// The name handlers are linked to. Defaults to the type's name without its path.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::Event;
    ///
    /// mod shop {
    ///     pub struct OrderCreated;
    ///     impl ventus::Event for OrderCreated {}
    ///
    ///     pub struct Refunded;
    ///     impl ventus::Event for Refunded {
    ///         fn name() -> &'static str {
    ///             "shop.refunded"
    ///         }
    ///     }
    /// }
    ///
    /// assert_eq!(shop::OrderCreated::name(), "OrderCreated", "the path is dropped");
    /// assert_eq!(shop::Refunded::name(), "shop.refunded");
    /// ```
    fn name() -> &'static str
    where
        Self: Sized,
    {
        short_type_name::<Self>()
    }
}

/// A type as the registry records it: its `TypeId` decides, its full name is for
/// messages. One function pointer, so each subscriber that keeps one pays 8 bytes.
#[derive(Clone, Copy)]
pub(crate) struct TypeTag(fn() -> (std::any::TypeId, &'static str));

impl TypeTag {
    pub(crate) fn of<T: ?Sized + 'static>() -> Self {
        Self(|| (std::any::TypeId::of::<T>(), type_name::<T>()))
    }

    pub(crate) fn id(self) -> std::any::TypeId {
        (self.0)().0
    }

    pub(crate) fn name(self) -> &'static str {
        (self.0)().1
    }
}

impl PartialEq for TypeTag {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for TypeTag {}

impl fmt::Debug for TypeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The type of a typed event, as the registry records it.
pub(crate) type EventType = TypeTag;

/// The name of a type without its module path: `OrderCreated` for
/// `shop::OrderCreated`, `Wrapper<u8>` for `a::Wrapper<u8>`.
pub(crate) fn short_type_name<T: ?Sized>() -> &'static str {
    let full = type_name::<T>();
    // Runs on every emit of a typed event, so a plain byte scan rather than the
    // substring searchers: the name starts after the last `::` that comes before the
    // first generic argument list.
    let bytes = full.as_bytes();
    let head = bytes.iter().position(|&b| b == b'<').unwrap_or(bytes.len());
    let start = bytes[..head]
        .iter()
        .rposition(|&b| b == b':')
        .map_or(0, |i| i + 1);
    // `start` follows an ASCII `:`, so it is a character boundary.
    full.get(start..).unwrap_or(full)
}

/// The event name of the error type `E`: its full type path, since many error types
/// share a short name (`Error`).
pub(crate) fn error_name<E: ?Sized + 'static>() -> &'static str {
    type_name::<E>()
}

/// What a handler can be linked to: a named event, or every event of a linker.
///
/// Names are checked when they are used: an empty name makes
/// [`subscribe`](crate::SubscribeBuilder::subscribe) fail with
/// [`SubscribeError::EmptyEventName`](crate::SubscribeError::EmptyEventName).
///
/// # Examples
///
/// ```
/// use ventus::{Event, EventTarget};
///
/// struct Shutdown;
/// impl Event for Shutdown {}
///
/// assert_eq!(EventTarget::from("Ping"), EventTarget::named("Ping"));
/// assert_eq!(EventTarget::event::<Shutdown>(), EventTarget::named("Shutdown"));
/// assert_ne!(EventTarget::Any, EventTarget::named("Ping"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventTarget {
    /// The event with this name. Typed events and error events are named after their type.
    Named(Arc<str>),
    /// Every event emitted through the linker (Pyventus's `...`).
    Any,
}

impl EventTarget {
    /// The event with this name.
    ///
    /// # Examples
    ///
    /// ```
    /// let target = ventus::EventTarget::named("Ping");
    /// assert_eq!(target.name(), Some("Ping"));
    /// ```
    pub fn named(name: impl AsRef<str>) -> Self {
        Self::Named(Arc::from(name.as_ref()))
    }

    /// The event named after the [`Event`] type `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// struct Tick;
    /// impl ventus::Event for Tick {}
    /// assert_eq!(ventus::EventTarget::event::<Tick>().name(), Some("Tick"));
    /// ```
    pub fn event<E: Event>() -> Self {
        Self::Named(Arc::from(E::name()))
    }

    /// The event named after the error type `E`, as emitted by
    /// [`EventEmitter::emit_error`](crate::EventEmitter::emit_error).
    ///
    /// # Examples
    ///
    /// ```
    /// let target = ventus::EventTarget::error::<std::fmt::Error>();
    /// assert_eq!(target.name(), Some(std::any::type_name::<std::fmt::Error>()));
    /// ```
    pub fn error<E: std::error::Error + Send + Sync + 'static>() -> Self {
        Self::Named(Arc::from(error_name::<E>()))
    }

    /// The name of a named target, `None` for [`EventTarget::Any`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ventus::EventTarget::Any.name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Named(name) => Some(name),
            Self::Any => None,
        }
    }
}

impl fmt::Debug for EventTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Named(name) => fmt::Debug::fmt(&**name, f),
            Self::Any => f.write_str("Any"),
        }
    }
}

impl fmt::Display for EventTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Named(name) => f.write_str(name),
            Self::Any => f.write_str("any event"),
        }
    }
}

impl From<&str> for EventTarget {
    fn from(name: &str) -> Self {
        Self::named(name)
    }
}

impl From<String> for EventTarget {
    fn from(name: String) -> Self {
        Self::Named(Arc::from(name))
    }
}

impl From<&String> for EventTarget {
    fn from(name: &String) -> Self {
        Self::named(name)
    }
}

impl From<EventName> for EventTarget {
    fn from(name: EventName) -> Self {
        Self::Named(name.into_arc())
    }
}

impl From<&EventName> for EventTarget {
    fn from(name: &EventName) -> Self {
        Self::from(name.clone())
    }
}

impl<P> From<EventKey<P>> for EventTarget {
    fn from(key: EventKey<P>) -> Self {
        Self::Named(Arc::from(key.name))
    }
}

/// One or several events to link a handler to, for [`EventLinker::on`](crate::EventLinker::on).
///
/// Implemented for a single name or [`EventTarget`] and for arrays, slices and
/// vectors of them, so `linker.on("A")` and `linker.on(["A", "B"])` both work.
///
/// # Examples
///
/// ```
/// use ventus::{EventTarget, IntoEvents};
///
/// assert_eq!("A".into_events(), vec![EventTarget::named("A")]);
/// assert_eq!(["A", "B"].into_events().len(), 2);
/// ```
pub trait IntoEvents {
    /// What the events carry: [`Untyped`](crate::plumbing::Untyped) for names, whose
    /// handlers may take any payload type, or [`Typed<P>`](crate::plumbing::Typed) for an
    /// [`EventKey<P>`], whose handlers must take a `P` (checked at compile time).
    type Payload;

    /// The targets, in the order given.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventKey, EventTarget, IntoEvents};
    ///
    /// const PING: EventKey<()> = EventKey::new("Ping");
    ///
    /// assert_eq!(["B", "A"].into_events(), [EventTarget::named("B"), EventTarget::named("A")]);
    /// assert_eq!(PING.into_events(), [EventTarget::named("Ping")]);
    /// ```
    fn into_events(self) -> Vec<EventTarget>;
}

macro_rules! into_events_for {
    ($($ty:ty),* $(,)?) => {$(
        impl IntoEvents for $ty {
            type Payload = Untyped;
            fn into_events(self) -> Vec<EventTarget> {
                vec![EventTarget::from(self)]
            }
        }

        impl<const N: usize> IntoEvents for [$ty; N] {
            type Payload = Untyped;
            fn into_events(self) -> Vec<EventTarget> {
                self.into_iter().map(EventTarget::from).collect()
            }
        }

        impl IntoEvents for Vec<$ty> {
            type Payload = Untyped;
            fn into_events(self) -> Vec<EventTarget> {
                self.into_iter().map(EventTarget::from).collect()
            }
        }

        impl<const N: usize> IntoEvents for &[$ty; N] {
            type Payload = Untyped;
            fn into_events(self) -> Vec<EventTarget> {
                self.iter().cloned().map(EventTarget::from).collect()
            }
        }

        impl IntoEvents for &[$ty] {
            type Payload = Untyped;
            fn into_events(self) -> Vec<EventTarget> {
                self.iter().cloned().map(EventTarget::from).collect()
            }
        }
    )*};
}

into_events_for!(&str, String, EventTarget, EventName);

impl IntoEvents for &String {
    type Payload = Untyped;
    fn into_events(self) -> Vec<EventTarget> {
        vec![EventTarget::from(self)]
    }
}

impl<P> IntoEvents for EventKey<P> {
    type Payload = Typed<P>;
    fn into_events(self) -> Vec<EventTarget> {
        vec![EventTarget::from(self)]
    }
}

/// A named event whose payload type is checked at compile time.
///
/// Declare keys as constants and use them on both sides:
/// [`EventEmitter::emit_key`](crate::EventEmitter::emit_key) accepts only a `P`, and
/// [`EventLinker::on`](crate::EventLinker::on) with a key accepts only handlers that take
/// a `P` (or no argument). Both are checked at compile time.
///
/// ```compile_fail
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// const LOW_VOLTAGE: ventus::EventKey<f64> = ventus::EventKey::new("LowVoltage");
/// let linker = ventus::EventLinker::builder().build()?;
/// linker.on(LOW_VOLTAGE).subscribe(|volts: &u8| ())?; // a `u8` handler for an `f64` event
/// # Ok(())
/// # }
/// ```
///
/// # Examples
///
/// ```
/// use ventus::{EventKey, EventLinker, TokioEventEmitter};
///
/// const LOW_VOLTAGE: EventKey<f64> = EventKey::new("LowVoltage");
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on(LOW_VOLTAGE).subscribe(|volts: &f64| assert!(*volts < 1.0))?;
/// TokioEventEmitter::with_linker(&linker).emit_key(LOW_VOLTAGE, 0.5)?;
/// # Ok(())
/// # }
/// ```
pub struct EventKey<P> {
    name: &'static str,
    _payload: std::marker::PhantomData<fn(P)>,
}

impl<P> EventKey<P> {
    /// A key for the event `name` carrying a `P`.
    ///
    /// An empty `name` is accepted here (this is a `const fn`) and reported when the key
    /// is used to subscribe or emit.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventKey, EventLinker, TokioEventEmitter};
    ///
    /// const PRICE: EventKey<u32> = EventKey::new("Price");
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on(PRICE).subscribe(|cents: &u32| *cents)?;
    /// let emitted = TokioEventEmitter::with_linker(&linker).emit_key(PRICE, 250)?;
    /// assert_eq!(emitted.wait().expect("no runtime on this thread").counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            _payload: std::marker::PhantomData,
        }
    }

    /// The event's name.
    ///
    /// # Examples
    ///
    /// ```
    /// const PING: ventus::EventKey<()> = ventus::EventKey::new("Ping");
    /// assert_eq!(PING.name(), "Ping");
    /// ```
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<P> Clone for EventKey<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for EventKey<P> {}

impl<P> fmt::Debug for EventKey<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventKey")
            .field("name", &self.name)
            .field("payload", &type_name::<P>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_the_path() {
        struct Plain;
        struct Generic<T>(T);
        assert_eq!(short_type_name::<Plain>(), "Plain");
        assert_eq!(short_type_name::<Generic<u8>>(), "Generic<u8>");
        assert_eq!(short_type_name::<u32>(), "u32");
        assert_eq!(short_type_name::<std::io::Error>(), "Error");
    }
}

/// Events whose payload type is not known when subscribing (string names): any
/// handler shape is accepted, and a mismatch is reported when it runs.
///
/// # Examples
///
/// ```
/// use ventus::plumbing::{LinkerDefault, Untyped};
/// use ventus::{EventLinker, SubscribeBuilder};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// let builder: SubscribeBuilder<LinkerDefault, Untyped> = linker.on("Reading");
/// builder.subscribe(|text: &String| text.len())?; // any payload type is accepted here
/// assert_eq!(linker.subscriber_count(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Untyped;

/// Events that carry a `P` (typed events, error events, [`EventKey<P>`](crate::EventKey)):
/// only handlers that take a `P`, or nothing, are accepted.
///
/// # Examples
///
/// ```
/// use ventus::plumbing::{LinkerDefault, Typed};
/// use ventus::{EventLinker, SubscribeBuilder};
///
/// #[derive(Clone)]
/// struct Paid(u64);
/// impl ventus::Event for Paid {}
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// let builder: SubscribeBuilder<LinkerDefault, Typed<Paid>> = linker.on_event::<Paid>();
/// builder.subscribe(|paid: &Paid| paid.0)?; // only `&Paid`, `Paid` (async) or nothing
/// assert_eq!(linker.subscriber_count(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Typed<P>(PhantomData<fn(P)>);
