//! The builder of a namespace.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use super::{BuildError, EventLinker};
use crate::handler::{DefaultSuccess, FailureCallback, HandlerError};

/// Settings of a new namespace; made by [`EventLinker::builder`].
///
/// # Examples
///
/// ```
/// use std::any::Any;
///
/// let linker = ventus::EventLinker::builder()
///     .name("sensors")
///     .max_subscribers(16)
///     .on_success(|value: &dyn Any| {
///         if let Some(v) = value.downcast_ref::<f64>() {
///             tracing::info!(v, "handled");
///         }
///     })
///     .on_failure(|err: &ventus::HandlerError| tracing::error!(%err))
///     .build()
///     .unwrap();
/// assert_eq!(linker.name(), Some("sensors"));
/// ```
#[derive(Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct EventLinkerBuilder {
    pub(super) name: Option<String>,
    pub(super) max_subscribers: Option<usize>,
    pub(super) on_success: Option<Arc<DefaultSuccess>>,
    pub(super) on_failure: Option<Arc<FailureCallback>>,
    pub(super) debug: bool,
    pub(super) zero_max: bool,
}

impl EventLinkerBuilder {
    /// A name for logs.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().name("sensors").build()?;
    /// assert_eq!(linker.name(), Some("sensors"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The most subscribers one event may have (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{BuildError, EventLinker, SubscribeError};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().max_subscribers(1).build()?;
    /// linker.on("Tick").subscribe(|| ())?;
    /// assert!(matches!(
    ///     linker.on("Tick").subscribe(|| ()),
    ///     Err(SubscribeError::TooManySubscribers { max: 1, .. })
    /// ));
    /// assert_eq!(
    ///     EventLinker::builder().max_subscribers(0).build().unwrap_err(),
    ///     BuildError::ZeroMaxSubscribers
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_subscribers(mut self, max: usize) -> Self {
        self.zero_max = max == 0;
        self.max_subscribers = Some(max);
        self
    }

    /// The success callback for subscriptions that have none: receives each handler's
    /// value (`()` for handlers that return nothing).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::any::Any;
    /// use std::sync::atomic::{AtomicI32, Ordering};
    /// use std::sync::Arc;
    /// use ventus::{EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sum = Arc::new(AtomicI32::new(0));
    /// let total = sum.clone();
    /// let linker = EventLinker::builder()
    ///     .on_success(move |value: &dyn Any| {
    ///         if let Some(n) = value.downcast_ref::<i32>() {
    ///             total.fetch_add(*n, Ordering::Relaxed);
    ///         }
    ///     })
    ///     .build()?;
    /// linker.on("Add").subscribe(|&(a, b): &(i32, i32)| a + b)?;
    ///
    /// TokioEventEmitter::with_linker(&linker).emit_with("Add", (2, 3))?;
    /// assert_eq!(sum.load(Ordering::Relaxed), 5);
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_success(mut self, callback: impl Fn(&dyn Any) + Send + Sync + 'static) -> Self {
        self.on_success = Some(Arc::new(callback));
        self
    }

    /// The failure callback for subscriptions that have none.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use ventus::{EventLinker, HandlerError, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let failures = Arc::new(AtomicUsize::new(0));
    /// let count = failures.clone();
    /// let linker = EventLinker::builder()
    ///     .on_failure(move |_: &HandlerError| {
    ///         count.fetch_add(1, Ordering::Relaxed);
    ///     })
    ///     .build()?;
    /// linker.on("Parse").subscribe(|text: &String| text.parse::<u8>())?;
    ///
    /// TokioEventEmitter::with_linker(&linker).emit_with("Parse", "300".to_string())?;
    /// assert_eq!(failures.load(Ordering::Relaxed), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_failure(mut self, callback: impl Fn(&HandlerError) + Send + Sync + 'static) -> Self {
        self.on_failure = Some(Arc::new(callback));
        self
    }

    /// Logs subscribe, unsubscribe and emit at debug level with `tracing`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().debug(true).build()?;
    /// assert!(linker.is_debug());
    /// # Ok(())
    /// # }
    /// ```
    pub fn debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// Makes the namespace.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroMaxSubscribers`] if `max_subscribers` was set to 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{BuildError, EventLinker};
    ///
    /// let linker = EventLinker::builder().name("jobs").build();
    /// assert!(linker.is_ok());
    /// let refused = EventLinker::builder().max_subscribers(0).build();
    /// assert_eq!(refused.unwrap_err(), BuildError::ZeroMaxSubscribers);
    /// ```
    pub fn build(self) -> Result<EventLinker, BuildError> {
        if self.zero_max {
            return Err(BuildError::ZeroMaxSubscribers);
        }
        Ok(EventLinker::from_builder(self))
    }
}

impl fmt::Debug for EventLinkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLinkerBuilder")
            .field("name", &self.name)
            .field("max_subscribers", &self.max_subscribers)
            .field("debug", &self.debug)
            .finish_non_exhaustive()
    }
}
