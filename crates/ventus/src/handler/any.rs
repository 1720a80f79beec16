//! [`AnyEvent`]: what a handler linked to every event receives.

use std::any::Any;
use std::time::SystemTime;

use super::SharedPayload;
use crate::event::{EmissionId, EventName};

/// One emission as seen by a handler linked to "any event", or by any handler that asks
/// for it: the event's name, the emission's id and time, and the payload.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use ventus::{AnyEvent, EventLinker, TokioEventEmitter};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let names = Arc::new(Mutex::new(Vec::new()));
/// let seen = names.clone();
/// let linker = EventLinker::builder().build()?;
/// linker.on_any().subscribe(move |event: &AnyEvent| {
///     seen.lock().unwrap().push((event.name().to_string(), event.payload::<u32>().copied()));
/// })?;
///
/// let emitter = TokioEventEmitter::with_linker(&linker);
/// emitter.emit("Ping")?;
/// emitter.emit_with("Count", 3_u32)?;
/// assert_eq!(
///     *names.lock().unwrap(),
///     [("Ping".to_string(), None), ("Count".to_string(), Some(3))]
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AnyEvent {
    pub(super) name: EventName,
    pub(super) id: EmissionId,
    pub(super) time: SystemTime,
    pub(super) payload: Option<SharedPayload>,
    pub(super) payload_type: Option<&'static str>,
}

impl AnyEvent {
    /// The event's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ventus::{AnyEvent, EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let names = Arc::new(Mutex::new(Vec::new()));
    /// let sink = names.clone();
    /// let linker = EventLinker::builder().build()?;
    /// linker.on_any().subscribe(move |event: &AnyEvent| sink.lock().unwrap().push(event.name().to_string()))?;
    ///
    /// let emitter = TokioEventEmitter::with_linker(&linker);
    /// emitter.emit("Ping")?;
    /// emitter.emit("Pong")?;
    /// assert_eq!(*names.lock().unwrap(), ["Ping", "Pong"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn name(&self) -> &EventName {
        &self.name
    }

    /// The emission's id.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ventus::{AnyEvent, EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ids = Arc::new(Mutex::new(Vec::new()));
    /// let sink = ids.clone();
    /// let linker = EventLinker::builder().build()?;
    /// linker.on_any().subscribe(move |event: &AnyEvent| sink.lock().unwrap().push(event.id()))?;
    ///
    /// let emitted = TokioEventEmitter::with_linker(&linker).emit("Ping")?;
    /// assert_eq!(*ids.lock().unwrap(), [emitted.id()]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn id(&self) -> EmissionId {
        self.id
    }

    /// When the emission was made.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::SystemTime;
    /// use ventus::{AnyEvent, EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let times = Arc::new(Mutex::new(Vec::new()));
    /// let sink = times.clone();
    /// let linker = EventLinker::builder().build()?;
    /// linker.on_any().subscribe(move |event: &AnyEvent| sink.lock().unwrap().push(event.time()))?;
    ///
    /// let before = SystemTime::now();
    /// TokioEventEmitter::with_linker(&linker).emit("Ping")?;
    /// let times = times.lock().unwrap();
    /// assert!(times[0] >= before && times[0] <= SystemTime::now());
    /// # Ok(())
    /// # }
    /// ```
    pub fn time(&self) -> SystemTime {
        self.time
    }

    /// The payload, if it is a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ventus::{AnyEvent, EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// let linker = EventLinker::builder().build()?;
    /// linker.on_any().subscribe(move |event: &AnyEvent| {
    ///     sink.lock().unwrap().push((event.payload::<u32>().copied(), event.payload::<String>().is_some()));
    /// })?;
    ///
    /// TokioEventEmitter::with_linker(&linker).emit_with("Count", 3_u32)?;
    /// assert_eq!(*seen.lock().unwrap(), [(Some(3), false)], "`None` for another type");
    /// # Ok(())
    /// # }
    /// ```
    pub fn payload<T: Any>(&self) -> Option<&T> {
        self.payload.as_deref()?.downcast_ref()
    }

    /// The payload as `&dyn Any`; `None` if the event was emitted without one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ventus::{AnyEvent, EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// let linker = EventLinker::builder().build()?;
    /// linker.on_any().subscribe(move |event: &AnyEvent| {
    ///     sink.lock().unwrap().push(event.payload_any().is_some_and(|p| p.is::<u32>()));
    /// })?;
    ///
    /// let emitter = TokioEventEmitter::with_linker(&linker);
    /// emitter.emit_with("Count", 3_u32)?;
    /// emitter.emit("Ping")?;
    /// assert_eq!(*seen.lock().unwrap(), [true, false]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn payload_any(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.payload.as_deref()
    }

    /// The payload's type name; `None` if the event was emitted without one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ventus::{AnyEvent, EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// let linker = EventLinker::builder().build()?;
    /// linker.on_any().subscribe(move |event: &AnyEvent| sink.lock().unwrap().push(event.payload_type()))?;
    ///
    /// let emitter = TokioEventEmitter::with_linker(&linker);
    /// emitter.emit_with("Count", 3_u32)?;
    /// emitter.emit("Ping")?;
    /// assert_eq!(*seen.lock().unwrap(), [Some("u32"), None]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn payload_type(&self) -> Option<&'static str> {
        self.payload_type
    }
}

impl std::fmt::Debug for AnyEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnyEvent")
            .field("name", &self.name)
            .field("id", &self.id)
            .field("time", &self.time)
            .field("payload_type", &self.payload_type)
            .finish()
    }
}
