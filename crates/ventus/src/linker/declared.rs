//! Declarative registration: what `#[ventus::on]` / `#[ventus::once]` leave behind, and
//! named linkers declared as statics with [`linker!`](macro@crate::linker).
//!
//! Each attribute adds one [`__private::Registration`] to an
//! [`inventory`](https://docs.rs/inventory) collection (the `ventus-macros` crate docs say
//! why `inventory`). A linker runs the registrations meant for it once, when it is first
//! used: [`EventLinker::global`] those without a named linker, a [`NamedLinker`] those that
//! name it.

use std::fmt;
use std::ops::Deref;
use std::ptr;
use std::sync::OnceLock;

use super::{EventLinker, EventLinkerBuilder};

/// A named linker (namespace) declared as a static with [`linker!`](macro@crate::linker).
///
/// It builds its [`EventLinker`] on first use, links the handlers whose attribute names
/// it (`#[ventus::on("E", linker = NAME)]`), and derefs to the [`EventLinker`], so every
/// linker method works on it and `&NAME` is accepted where an `&EventLinker` is
/// expected. Its namespace shares nothing with the global linker or with other named
/// linkers.
///
/// # Panics
///
/// First use (deref, [`linker`](Self::linker)) panics if the builder cannot build the
/// linker, which happens only for `max_subscribers(0)`. A literal `0` is already refused
/// at compile time by [`linker!`](macro@crate::linker), so only a computed zero gets here.
/// Using the static from inside its own builder expression is a reentrant
/// initialisation: it deadlocks or panics, as [`OnceLock::get_or_init`] says.
///
/// # Examples
///
/// ```
/// use ventus::{EventLinker, TokioEventEmitter};
///
/// ventus::linker! {
///     /// Everything about payments.
///     pub static PAYMENTS = EventLinker::builder().name("payments").max_subscribers(3);
/// }
///
/// #[ventus::on("Paid", linker = PAYMENTS)]
/// fn paid(cents: &u64) {
///     println!("paid {cents}");
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// assert_eq!(PAYMENTS.max_subscribers(), Some(3));
/// assert!(PAYMENTS.contains_event("Paid"));
/// assert!(!EventLinker::global().contains_event("Paid"));
/// TokioEventEmitter::with_linker(&PAYMENTS).emit_with("Paid", 990_u64)?;
/// # Ok(())
/// # }
/// ```
pub struct NamedLinker {
    /// The static's path, for messages. Set once by `linker!`.
    path: &'static str,
    /// Makes the builder; run once, on first use. Set once by `linker!`.
    builder: fn() -> EventLinkerBuilder,
    /// The linker, built on first use; `OnceLock` makes concurrent first uses build and
    /// register once.
    linker: OnceLock<EventLinker>,
}

impl NamedLinker {
    /// Used by `linker!`; not public API.
    #[doc(hidden)]
    pub const fn __new(path: &'static str, builder: fn() -> EventLinkerBuilder) -> Self {
        Self {
            path,
            builder,
            linker: OnceLock::new(),
        }
    }

    /// The linker, built (and its declared handlers linked) on the first call.
    ///
    /// # Panics
    ///
    /// If the builder cannot build the linker; see [`NamedLinker`]'s `# Panics`.
    ///
    /// # Examples
    ///
    /// ```
    /// ventus::linker! {
    ///     static SENSORS = ventus::EventLinker::builder().name("sensors");
    /// }
    ///
    /// let linker: &ventus::EventLinker = SENSORS.linker();
    /// assert_eq!(linker.name(), Some("sensors"));
    /// ```
    pub fn linker(&self) -> &EventLinker {
        self.linker.get_or_init(|| {
            let linker = match (self.builder)().build() {
                Ok(linker) => linker,
                Err(err) => panic!(
                    "ventus: the named linker `{}` cannot be built: {err}",
                    self.path
                ),
            };
            register_declared(&linker, Some(self));
            linker
        })
    }

    /// The path of the static, such as `my_app::events::PAYMENTS`.
    ///
    /// # Examples
    ///
    /// ```
    /// ventus::linker! {
    ///     static AUDIT = ventus::EventLinker::builder();
    /// }
    /// assert!(AUDIT.path().ends_with("::AUDIT"));
    /// ```
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// Whether the linker has been built, that is, used at least once.
    ///
    /// # Examples
    ///
    /// ```
    /// ventus::linker! {
    ///     static LAZY = ventus::EventLinker::builder();
    /// }
    /// assert!(!LAZY.is_built());
    /// assert!(LAZY.is_empty());
    /// assert!(LAZY.is_built());
    /// ```
    pub fn is_built(&self) -> bool {
        self.linker.get().is_some()
    }
}

impl Deref for NamedLinker {
    type Target = EventLinker;

    fn deref(&self) -> &EventLinker {
        self.linker()
    }
}

impl AsRef<EventLinker> for NamedLinker {
    fn as_ref(&self) -> &EventLinker {
        self.linker()
    }
}

impl fmt::Debug for NamedLinker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamedLinker")
            .field("path", &self.path)
            .field("linker", &self.linker.get())
            .finish_non_exhaustive()
    }
}

/// Runs, against `linker`, every registration meant for `target` (`None`: the global
/// linker). Called once per linker, while it is being initialised: nothing here may use
/// `EventLinker::global()` or the named linker's static.
pub(crate) fn register_declared(linker: &EventLinker, target: Option<&NamedLinker>) {
    let mut found: Vec<&'static __private::Registration> =
        inventory::iter::<__private::Registration>
            .into_iter()
            .filter(|r| match (r.linker, target) {
                (None, None) => true,
                // Only the address of the static is taken: this does not initialise it.
                (Some(of), Some(target)) => ptr::eq(of(), target),
                _ => false,
            })
            .collect();
    // `inventory` gives no order; subscription order should not depend on the linker.
    found.sort_by_key(|r| (r.file, r.line, r.column));
    for registration in found {
        if let Err(err) = (registration.register)(linker) {
            tracing::error!(
                linker = linker.name().unwrap_or(""),
                handler = registration.handler,
                file = registration.file,
                line = registration.line,
                error = %err,
                "ventus: a handler declared with an attribute could not be linked"
            );
        }
    }
}

/// What the macros expand to; not public API, may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use inventory;

    use crate::linker::declared::NamedLinker;
    use crate::linker::Subscription;
    use crate::linker::{EventLinker, SubscribeError};

    /// One handler declared with `#[ventus::on]` or `#[ventus::once]`.
    #[derive(Debug)]
    pub struct Registration {
        /// The named linker it is for; `None` for the global linker.
        pub linker: Option<fn() -> &'static NamedLinker>,
        /// Subscribes the handler to the linker it is given.
        pub register: fn(&EventLinker) -> Result<Subscription, SubscribeError>,
        /// The handler's path, for logs.
        pub handler: &'static str,
        /// Where the attribute is, for logs and a stable subscription order.
        pub file: &'static str,
        /// The attribute's line.
        pub line: u32,
        /// The attribute's column.
        pub column: u32,
    }

    inventory::collect!(Registration);
}
