//! Declarative registration for [ventus](https://docs.rs/ventus): the attributes
//! `#[ventus::on(..)]` and `#[ventus::once(..)]`, `#[derive(Event)]`, and `ventus::linker!`
//! for named linkers.
//!
//! Use them through `ventus` (its `macros` feature, on by default), not from this crate:
//! the code they expand to names `::ventus::…`.
//!
//! ```
//! #[ventus::on("StringEvent")]
//! fn sync_event_callback() {
//!     println!("Sync event callback!");
//! }
//!
//! #[ventus::on("StringEvent")]
//! async fn async_event_callback() {
//!     println!("Async event callback!");
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // No call to register them: the global linker links both on its first use.
//!     ventus::TokioEventEmitter::new().emit("StringEvent")?;
//!     Ok(())
//! }
//! ```
//!
//! # How registration works, and why `inventory`
//!
//! Each attribute leaves the function as it is and adds one static registration item: a
//! function that links the handler to a given [`EventLinker`], and the named linker it is
//! for (none for the global one). Those items are collected with
//! [`inventory`](https://docs.rs/inventory). [`EventLinker::global`] runs every registration
//! for the global linker when it is first used, and each named linker runs its own when it
//! is first used: exactly once per linker, with no call in `main`.
//!
//! We read the docs of the two crates that collect items spread over a program,
//! `inventory` and [`linkme`](https://docs.rs/linkme), and chose `inventory`:
//!
//! - **Platforms.** `linkme`'s distributed slices rely on per-platform linker sections and
//!   list Linux, macOS, Windows, FreeBSD and illumos as supported, "others" not;
//!   `inventory` works wherever the platform runs static constructors, WebAssembly
//!   included (its docs say what a wasm embedder must call). A library that every event
//!   handler of an application goes through should not narrow the platforms it builds on.
//! - **Through a re-export.** `inventory::submit!` names its own crate with `$crate`, so
//!   the code our macros emit reaches it as `::ventus::__private::inventory` and users need
//!   no dependency of their own. `linkme` needs a `#[linkme(crate = ..)]` path on every
//!   element for the same thing.
//! - **What runs before `main`.** `inventory`'s constructors only push a `'static` node on
//!   a lock-free list; none of our code and none of the user's runs before `main`. The
//!   handlers are linked later, on the linker's first use, so a failed registration is
//!   logged by the application's `tracing` subscriber like any other error.
//!
//! The price is one tiny constructor per registration at start-up, where `linkme` has
//! none. Both share one limit: a registration in a crate that the final binary never
//! links (nothing of it is used) is left out by the linker.
//!
//! [`EventLinker`]: https://docs.rs/ventus/latest/ventus/struct.EventLinker.html
//! [`EventLinker::global`]: https://docs.rs/ventus/latest/ventus/struct.EventLinker.html#method.global

mod attr;
mod event;
mod linker;

use proc_macro::TokenStream;

/// Links a function to events of the global linker (or of a named one) when that linker
/// is first used; Pyventus's `@EventLinker.on(..)` decorator.
///
/// The function itself is left unchanged and can still be called as usual. What it is
/// linked to comes first in the attribute, then options:
///
/// | attribute | links to | as |
/// |---|---|---|
/// | `#[ventus::on("A", "B")]` | the events named `"A"` and `"B"` | `linker.on(["A", "B"])` |
/// | `#[ventus::on(OrderCreated)]` | the typed event `OrderCreated` ([`Event`](derive.Event.html)) | `linker.on_event::<OrderCreated>()` |
/// | `#[ventus::on(error = ParseIntError)]` | the error type `ParseIntError` | `linker.on_error::<ParseIntError>()` |
/// | `#[ventus::on(key = TEMPERATURE)]` | the typed key `TEMPERATURE` (an `EventKey<P>`) | `linker.on(TEMPERATURE)` |
/// | `#[ventus::on(any)]` | every event of the linker | `linker.on_any()` |
///
/// | option | effect |
/// |---|---|
/// | `name = "send-receipt"` | names the handler in errors, reports, spans and logs (`.name(..)`); without it, the function's path names it |
/// | `linker = PAYMENTS` | registers into the named linker `PAYMENTS` (declared with [`linker!`](macro.linker.html)) instead of the global one |
/// | `blocking` | runs the (sync) handler on tokio's blocking pool: `.blocking()` |
/// | `priority = 10` | starts the handler before those of lower priority (`.priority(..)`, an `i32` expression; default `0`) |
/// | `on_success = path` | `.on_success(path)`: receives the handler's value, `&T` |
/// | `on_failure = path` | `.on_failure(path)`: receives a `&ventus::HandlerError` |
///
/// `on_success` and `on_failure` take a path to a function, or a closure.
///
/// # Accepted functions
///
/// A free function (not a method or an associated function of an `impl` block), not
/// generic, with no argument or one payload argument:
///
/// | shape | gets |
/// |---|---|
/// | `fn f()` | nothing |
/// | `fn f(payload: &P)` | the payload by reference |
/// | `async fn f()` | nothing |
/// | `async fn f(payload: P)` | a clone of the payload (`P: Clone`) |
///
/// It returns `()`, a value, or a `Result`, as any ventus handler. Any other shape is a
/// compile error that says what is accepted. Several attributes on one function make
/// several subscriptions.
///
/// # Registration
///
/// Registrations run once, when their linker is first used (for the global linker: the
/// first call of `EventLinker::global()`, which `TokioEventEmitter::new()` makes). They
/// subscribe in a stable order: by source file path, then by position in the file. A
/// registration that fails (for example because an event already has the linker's
/// `max_subscribers`) is logged with `tracing::error!` and the others go on.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use ventus::{AnyEvent, Event, EventLinker, HandlerError, TokioEventEmitter};
///
/// static PAID: AtomicU64 = AtomicU64::new(0);
///
/// #[derive(Debug, Clone, Event)]
/// struct Paid {
///     cents: u64,
/// }
///
/// #[ventus::on(Paid, on_failure = report)]
/// fn add_up(paid: &Paid) -> Result<(), &'static str> {
///     if paid.cents == 0 {
///         return Err("nothing paid");
///     }
///     PAID.fetch_add(paid.cents, Ordering::SeqCst);
///     Ok(())
/// }
///
/// #[ventus::on("Refund", "Chargeback")]
/// async fn notify(cents: u64) {
///     println!("{cents} returned");
/// }
///
/// #[ventus::on(any)]
/// fn audit(event: &AnyEvent) {
///     println!("{} at {:?}", event.name(), event.time());
/// }
///
/// fn report(err: &HandlerError) {
///     eprintln!("{err}");
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let emitter = TokioEventEmitter::new();
///     emitter.emit_event(Paid { cents: 250 })?;
///     emitter.emit_with("Refund", 100_u64)?;
///     assert_eq!(PAID.load(Ordering::SeqCst), 250);
///
///     add_up(&Paid { cents: 1 })?; // still an ordinary function
///     assert_eq!(EventLinker::global().subscriber_count_of("Refund"), 1);
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn on(args: TokenStream, item: TokenStream) -> TokenStream {
    attr::expand(attr::Kind::On, args.into(), item.into()).into()
}

/// Like [`on`](attr.on.html), for the first emission only: Pyventus's
/// `@EventLinker.once(..)`.
///
/// The handler runs at most once, and exactly once if one of its events is emitted; it is
/// removed when an emission claims it. The attribute takes the same events and options
/// as [`on`](attr.on.html).
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// static STARTS: AtomicUsize = AtomicUsize::new(0);
///
/// #[ventus::once("Started")]
/// fn first_start() {
///     STARTS.fetch_add(1, Ordering::SeqCst);
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let emitter = ventus::TokioEventEmitter::new();
///     emitter.emit("Started")?;
///     emitter.emit("Started")?;
///     assert_eq!(STARTS.load(Ordering::SeqCst), 1);
///     assert!(!ventus::EventLinker::global().contains_event("Started"));
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn once(args: TokenStream, item: TokenStream) -> TokenStream {
    attr::expand(attr::Kind::Once, args.into(), item.into()).into()
}

/// Implements `ventus::Event` for a struct or enum, so it can be emitted with
/// `emit_event` and subscribed to as a typed event.
///
/// The event's name is the type's name without its module path, unless
/// `#[event(name = "...")]` gives another (a non-empty string).
///
/// # Examples
///
/// ```
/// use ventus::Event;
///
/// #[derive(Debug, Clone, Event)]
/// struct OrderCreated {
///     id: u64,
/// }
///
/// #[derive(Debug, Clone, Event)]
/// #[event(name = "orders.cancelled")]
/// struct OrderCancelled {
///     id: u64,
/// }
///
/// assert_eq!(OrderCreated::name(), "OrderCreated");
/// assert_eq!(OrderCancelled::name(), "orders.cancelled");
/// ```
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    event::expand(input.into()).into()
}

/// Declares named linkers (namespaces) as statics, with their settings.
///
/// Each item is `static NAME = builder;`, with any visibility, doc comments and
/// attributes, where `builder` is an `EventLinkerBuilder` expression. It declares a
/// `static NAME: ventus::NamedLinker` that builds the linker on first use, links the
/// handlers whose attribute says `linker = NAME`, and derefs to `EventLinker`.
///
/// `max_subscribers(0)` written as a literal is a compile error. A builder that still
/// fails when it is built (a computed `max_subscribers` of 0) panics on the linker's first
/// use; see `NamedLinker`'s `# Panics`.
///
/// # Examples
///
/// ```
/// use ventus::{EventLinker, TokioEventEmitter};
///
/// ventus::linker! {
///     /// The payments namespace: at most 3 handlers per event.
///     pub static PAYMENTS = EventLinker::builder().name("payments").max_subscribers(3);
///     static AUDIT = EventLinker::builder().name("audit").debug(true);
/// }
///
/// #[ventus::on("Paid", linker = PAYMENTS)]
/// fn paid(cents: &u64) {
///     println!("paid {cents}");
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     assert_eq!(PAYMENTS.name(), Some("payments"));
///     assert_eq!(PAYMENTS.subscriber_count_of("Paid"), 1);
///     assert!(AUDIT.is_empty());
///     assert!(!EventLinker::global().contains_event("Paid"));
///
///     TokioEventEmitter::with_linker(&PAYMENTS).emit_with("Paid", 1_250_u64)?;
///     Ok(())
/// }
/// ```
///
/// A literal zero is refused when the program is compiled:
///
/// ```compile_fail
/// ventus::linker! {
///     static NOBODY = ventus::EventLinker::builder().max_subscribers(0);
/// }
/// # fn main() {}
/// ```
#[proc_macro]
pub fn linker(input: TokenStream) -> TokenStream {
    linker::expand(input.into()).into()
}
