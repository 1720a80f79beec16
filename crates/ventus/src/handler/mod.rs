//! Handlers: the functions and closures linked to events.
//!
//! One generic path, [`Handler`], covers every accepted shape:
//!
//! | shape | argument | runs |
//! |---|---|---|
//! | `fn() -> R` | none | when polled, to its end |
//! | `fn(&P) -> R` | the payload by reference | when polled, to its end |
//! | `fn() -> impl Future<Output = R>` | none | interleaved with the other handlers |
//! | `fn(P) -> impl Future<Output = R>` | a clone of the payload (`P: Clone`) | interleaved |
//!
//! `R` is `()`, a value (any [`HandlerOutput`]), or `Result<T, E>` with `E` convertible
//! into a boxed error; an `Err` takes the failure path. A handler that takes
//! [`AnyEvent`] (by reference, or by value when async) receives the emission's name, id,
//! time and payload whatever event it was linked to.

mod error;

use std::any::{type_name, Any, TypeId};
use std::cell::{Cell, OnceCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

pub(crate) use self::error::panic_message;
pub use self::error::{BoxError, HandlerError, HandlerErrorKind};

use crate::emitter::EmissionId;
use crate::emitter::NameRef;
use crate::event::EventName;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
/// A running async handler.
pub(crate) type HandlerFuture = BoxFuture<Result<(), HandlerErrorKind>>;
pub(crate) type SharedPayload = Arc<dyn Any + Send + Sync>;
/// A linker's default success callback: receives a handler's value.
pub(crate) type DefaultSuccess = dyn Fn(&dyn Any) + Send + Sync;
/// A failure callback: receives the failed handler's error.
pub(crate) type FailureCallback = dyn Fn(&HandlerError) + Send + Sync;

/// What a handler returned that counts as a value for its success callback.
///
/// Implemented for `()`, `Result<T, E>` (where `E` converts into a [`BoxError`]), the
/// standard scalar, string and collection types, and [`Value`]. (A handler that never
/// returns, such as `|| async { todo!() }`, needs none: it is a handler of its own shape.) Implement it for your
/// own type to return that type from handlers, or wrap it in [`Value`].
///
/// # Examples
///
/// ```
/// use ventus::{BoxError, HandlerOutput};
///
/// struct Receipt(u64);
///
/// impl HandlerOutput for Receipt {
///     type Ok = Receipt;
///     fn into_result(self) -> Result<Receipt, BoxError> {
///         Ok(self)
///     }
/// }
/// assert_eq!(Receipt(3).into_result().unwrap().0, 3);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a ventus handler",
    note = "a handler returns `()`, `Result<T, E>` with any `T`, a standard value type, or a type implementing `HandlerOutput`; wrap other values in `ventus::Value(..)`"
)]
pub trait HandlerOutput: Send + 'static {
    /// The value a success callback receives.
    type Ok: Send + 'static;

    /// Splits the output into the success value or the failure.
    ///
    /// # Errors
    ///
    /// Returns the handler's error when the output stands for a failure.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::HandlerOutput;
    ///
    /// assert_eq!(Ok::<u8, &str>(3).into_result().unwrap(), 3);
    /// let err = Err::<u8, _>("no stock").into_result().unwrap_err();
    /// assert_eq!(err.to_string(), "no stock");
    /// ```
    fn into_result(self) -> Result<Self::Ok, BoxError>;
}

impl HandlerOutput for () {
    type Ok = ();
    fn into_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<T: Send + 'static, E: Into<BoxError> + Send + 'static> HandlerOutput for Result<T, E> {
    type Ok = T;
    fn into_result(self) -> Result<T, BoxError> {
        self.map_err(Into::into)
    }
}

/// Any value, returned from a handler for its success callback.
///
/// # Examples
///
/// ```
/// use ventus::{HandlerOutput, Value};
///
/// struct Total(u64);
/// let out = Value(Total(5)).into_result().unwrap();
/// assert_eq!(out.0, 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Value<T>(pub T);

impl<T: Send + 'static> HandlerOutput for Value<T> {
    type Ok = T;
    fn into_result(self) -> Result<T, BoxError> {
        Ok(self.0)
    }
}

macro_rules! plain_output {
    ($($ty:ty),* $(,)?) => {$(
        impl HandlerOutput for $ty {
            type Ok = $ty;
            fn into_result(self) -> Result<$ty, BoxError> {
                Ok(self)
            }
        }
    )*};
}

plain_output!(
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    &'static str,
    std::time::Duration,
);

impl<T: Send + 'static> HandlerOutput for Option<T> {
    type Ok = Option<T>;
    fn into_result(self) -> Result<Option<T>, BoxError> {
        Ok(self)
    }
}

impl<T: Send + 'static> HandlerOutput for Vec<T> {
    type Ok = Vec<T>;
    fn into_result(self) -> Result<Vec<T>, BoxError> {
        Ok(self)
    }
}

/// A success callback for a handler whose value is a `T`.
///
/// Implemented for every `Fn(&T)`; the builder uses it so a callback that takes the
/// wrong type is a compile error.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use ventus::plumbing::OnSuccess;
///
/// static LAST: AtomicU32 = AtomicU32::new(0);
///
/// let callback = |n: &u32| LAST.store(*n, Ordering::Relaxed);
/// callback.on_success(&7); // what a subscription does with its handler's value
/// assert_eq!(LAST.load(Ordering::Relaxed), 7);
/// ```
pub trait OnSuccess<T>: Send + Sync + 'static {
    /// Receives the handler's value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use ventus::plumbing::OnSuccess;
    ///
    /// static SUM: AtomicU32 = AtomicU32::new(0);
    ///
    /// let callback = |n: &u32| {
    ///     SUM.fetch_add(*n, Ordering::Relaxed);
    /// };
    /// callback.on_success(&2);
    /// callback.on_success(&3);
    /// assert_eq!(SUM.load(Ordering::Relaxed), 5);
    /// ```
    fn on_success(&self, value: &T);
}

impl<T, F: Fn(&T) + Send + Sync + 'static> OnSuccess<T> for F {
    fn on_success(&self, value: &T) {
        self(value)
    }
}

/// The success step of a subscription: its own callback ([`WithSuccess`]) or the
/// linker's default ([`LinkerDefault`]). Named only in bounds.
///
/// # Examples
///
/// A helper generic over the builder's success step:
///
/// ```
/// use ventus::plumbing::{Ready, SuccessStep};
/// use ventus::{EventLinker, Handler, SubscribeBuilder, SubscribeError, Subscription};
///
/// fn subscribe_once<S, H, M>(builder: SubscribeBuilder<S>, handler: H) -> Result<Subscription, SubscribeError>
/// where
///     H: Handler<M>,
///     M: Ready,
///     S: SuccessStep<H::Value>,
/// {
///     builder.once().subscribe(handler)
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// assert!(subscribe_once(linker.on("Tick"), || ())?.is_once());
/// let with_callback = linker.on("Tick").on_success(|n: &u32| assert_eq!(*n, 1));
/// assert!(subscribe_once(with_callback, || 1_u32)?.is_once());
/// # Ok(())
/// # }
/// ```
pub trait SuccessStep<T>: Send + Sync + 'static {
    /// Whether this step is [`LinkerDefault`], which holds nothing: an async handler's
    /// future then needs no share of it.
    #[doc(hidden)]
    const LINKER_DEFAULT: bool = false;

    /// Receives the handler's value; `default` is the linker's default callback.
    #[doc(hidden)]
    fn call(&self, value: &T, default: Option<&DefaultSuccess>);
}

/// No callback of its own: the linker's default success callback, if any, runs.
///
/// # Examples
///
/// ```
/// use ventus::plumbing::LinkerDefault;
/// use ventus::{EventLinker, SubscribeBuilder};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// let builder: SubscribeBuilder<LinkerDefault> = linker.on("Tick"); // no callback of its own
/// builder.subscribe(|| ())?;
/// assert_eq!(linker.subscriber_count(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkerDefault {
    _priv: (),
}

impl LinkerDefault {
    pub(crate) fn new() -> Self {
        Self { _priv: () }
    }
}

impl<T: Send + 'static> SuccessStep<T> for LinkerDefault {
    const LINKER_DEFAULT: bool = true;

    #[inline]
    fn call(&self, value: &T, default: Option<&DefaultSuccess>) {
        if let Some(default) = default {
            call_default(default, value);
        }
    }
}

#[inline(never)]
fn call_default(default: &DefaultSuccess, value: &dyn Any) {
    guard_callback("default success callback", || default(value));
}

/// A subscription's own success callback, set with
/// [`SubscribeBuilder::on_success`](crate::SubscribeBuilder::on_success).
///
/// # Examples
///
/// ```
/// use ventus::plumbing::WithSuccess;
/// use ventus::{EventLinker, SubscribeBuilder};
///
/// fn log(n: &u32) {
///     assert!(*n > 0);
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// let builder: SubscribeBuilder<WithSuccess<fn(&u32)>> =
///     linker.on("Tick").on_success(log as fn(&u32));
/// builder.subscribe(|| 1_u32)?;
/// assert_eq!(linker.subscriber_count(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct WithSuccess<S>(pub(crate) S);

impl<T, S: OnSuccess<T>> SuccessStep<T> for WithSuccess<S> {
    fn call(&self, value: &T, _default: Option<&DefaultSuccess>) {
        guard_callback("success callback", || self.0.on_success(value));
    }
}

/// Runs a user callback; a panic in it is logged and goes no further.
pub(crate) fn guard_callback(what: &str, f: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(f)) {
        tracing::error!(callback = what, panic = %panic_message(&*panic), "ventus callback panicked");
    }
}

/// Drops a user value (a handler, a callback, what they captured) where ventus drops
/// it; a panic in its `Drop` is logged and goes no further, so the call that dropped it
/// still returns its own result.
pub(crate) fn drop_caught<T>(what: &str, value: T) {
    if !std::mem::needs_drop::<T>() {
        return;
    }
    if let Err(panic) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
        tracing::error!(value = what, panic = %panic_message(&*panic), "ventus: dropping a user value panicked");
    }
}

/// Everything an emission offers the handlers it runs.
pub(crate) struct Ctx<'a> {
    pub(crate) event: &'a NameRef<'a>,
    pub(crate) id: EmissionId,
    pub(crate) time: &'a OnceLock<SystemTime>,
    pub(crate) payload: Option<&'a (dyn Any + Send + Sync)>,
    pub(crate) payload_type: Option<&'static str>,
    pub(crate) shared: Option<&'a SharedPayload>,
    pub(crate) default_success: Option<&'a Arc<DefaultSuccess>>,
    /// The running sync handler's deadline and timeout, if it has one.
    pub(crate) deadline: Cell<Option<(Instant, Duration)>>,
    any: OnceCell<AnyEvent>,
}

impl<'a> Ctx<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        event: &'a NameRef<'a>,
        id: EmissionId,
        time: &'a OnceLock<SystemTime>,
        payload: Option<&'a (dyn Any + Send + Sync)>,
        payload_type: Option<&'static str>,
        shared: Option<&'a SharedPayload>,
        default_success: Option<&'a Arc<DefaultSuccess>>,
    ) -> Self {
        Self {
            event,
            id,
            time,
            payload,
            payload_type,
            shared,
            default_success,
            deadline: Cell::new(None),
            any: OnceCell::new(),
        }
    }

    fn any_event(&self) -> &AnyEvent {
        self.any.get_or_init(|| AnyEvent {
            name: self.event.to_owned(),
            id: self.id,
            time: *self.time.get_or_init(SystemTime::now),
            payload: self.shared.cloned(),
            payload_type: self.payload_type,
        })
    }

    /// The payload as a `P`, or the error that says why it is not one.
    #[inline]
    fn payload<P: Any>(&self) -> Result<&P, HandlerErrorKind> {
        let mismatch = || payload_mismatch(type_name::<P>(), self.payload_type);
        if TypeId::of::<P>() == TypeId::of::<AnyEvent>() {
            return (self.any_event() as &dyn Any)
                .downcast_ref::<P>()
                .ok_or_else(mismatch);
        }
        match self.payload {
            Some(payload) => payload.downcast_ref::<P>().ok_or_else(mismatch),
            // A handler of `&()` accepts an emission without a payload.
            None => (&() as &dyn Any).downcast_ref::<P>().ok_or_else(mismatch),
        }
    }
}

#[cold]
#[inline(never)]
fn payload_mismatch(expected: &'static str, found: Option<&'static str>) -> HandlerErrorKind {
    HandlerErrorKind::PayloadType { expected, found }
}

type SyncFn = dyn Fn(&Ctx<'_>) -> Result<(), HandlerErrorKind> + Send + Sync;
type AsyncFn = dyn Fn(&Ctx<'_>) -> Result<BoxFuture<Result<(), HandlerErrorKind>>, HandlerErrorKind>
    + Send
    + Sync;

/// A handler with its shape and payload type erased; built by [`Handler::into_erased`].
pub struct ErasedHandler {
    pub(crate) name: &'static str,
    pub(crate) call: ErasedCall,
    /// The handler takes [`AnyEvent`], so the payload must be shared with it.
    pub(crate) wants_any_event: bool,
    /// The payload type the handler takes; `None` for one that takes no argument or
    /// takes [`AnyEvent`] (it accepts any emission).
    pub(crate) takes: Option<PayloadType>,
}

/// A payload type a handler declares.
pub(crate) type PayloadType = crate::event::TypeTag;

/// What a handler taking `P` declares: nothing for [`AnyEvent`].
fn declares<P: Any>() -> Option<PayloadType> {
    (TypeId::of::<P>() != TypeId::of::<AnyEvent>()).then(PayloadType::of::<P>)
}

pub(crate) enum ErasedCall {
    Sync(Box<SyncFn>),
    Async(Box<AsyncFn>),
}

impl ErasedHandler {
    /// A handler that does nothing; stands in for one whose drop was deferred.
    pub(crate) fn noop() -> Self {
        Self {
            name: "noop",
            call: ErasedCall::Sync(Box::new(|_: &Ctx<'_>| Ok(()))),
            wants_any_event: false,
            takes: None,
        }
    }

    /// The handler under `name` instead of its type name, if one is given.
    pub(crate) fn named(mut self, name: Option<&'static str>) -> Self {
        if let Some(name) = name {
            self.name = name;
        }
        self
    }

    pub(crate) fn is_async(&self) -> bool {
        matches!(self.call, ErasedCall::Async(_))
    }
}

impl std::fmt::Debug for ErasedHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErasedHandler")
            .field("name", &self.name)
            .field("async", &self.is_async())
            .finish()
    }
}

/// Marker types that tell the [`Handler`] shapes apart, re-exported in [`crate::plumbing`].
pub(crate) mod marker {
    use std::marker::PhantomData;

    /// A sync handler with no argument.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::plumbing::SyncNoArg;
    /// use ventus::Handler;
    ///
    /// fn takes_nothing<H: Handler<SyncNoArg>>(handler: H) -> H {
    ///     handler
    /// }
    /// assert_eq!(takes_nothing(|| 1)(), 1);
    /// ```
    #[derive(Debug)]
    pub struct SyncNoArg;
    /// A sync handler taking `&P`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::plumbing::SyncArg;
    /// use ventus::Handler;
    ///
    /// fn by_reference<H: Handler<SyncArg<f64>>>(handler: H) -> H {
    ///     handler
    /// }
    /// assert!(by_reference(|volts: &f64| *volts > 1.0)(&1.5));
    /// ```
    #[derive(Debug)]
    pub struct SyncArg<P>(PhantomData<fn(P)>);
    /// An async handler with no argument.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::plumbing::AsyncNoArg;
    /// use ventus::Handler;
    ///
    /// fn async_no_argument<H: Handler<AsyncNoArg>>(handler: H) -> H {
    ///     handler
    /// }
    /// let handler = async_no_argument(|| async { 2 });
    /// # let _ = handler;
    /// ```
    #[derive(Debug)]
    pub struct AsyncNoArg;
    /// An async handler taking a `P`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::plumbing::AsyncArg;
    /// use ventus::Handler;
    ///
    /// fn async_by_value<H: Handler<AsyncArg<u32>>>(handler: H) -> H {
    ///     handler
    /// }
    /// let handler = async_by_value(|n: u32| async move { n * 2 });
    /// # let _ = handler;
    /// ```
    #[derive(Debug)]
    pub struct AsyncArg<P>(PhantomData<fn(P)>);

    /// A handler of shape `M` that never returns, such as `|| async { todo!() }` or
    /// `|| panic!()`: its output is `!`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::plumbing::{Diverges, SyncNoArg};
    /// use ventus::Handler;
    ///
    /// fn never_returns<H: Handler<Diverges<SyncNoArg>>>(handler: H) -> H {
    ///     handler
    /// }
    /// let handler = never_returns(|| panic!("not written yet"));
    /// # let _ = handler;
    /// ```
    #[derive(Debug)]
    pub struct Diverges<M>(PhantomData<fn(M)>);

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

    /// What a handler of this shape needs from the payload to run: for an async handler
    /// taking `P`, the function that clones it; nothing for the others. Implemented for
    /// every shape; [`Ready`] says whether the payload provides it.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::plumbing::{AsyncArg, Shape};
    ///
    /// // An async handler of `u32` needs a way to clone its payload.
    /// let take: <AsyncArg<u32> as Shape>::Take = u32::clone;
    /// assert_eq!(take(&3), 3);
    /// ```
    pub trait Shape {
        /// What [`Ready::take`] gives.
        #[doc(hidden)]
        type Take: Copy + Send + Sync + 'static;
    }

    impl Shape for SyncNoArg {
        type Take = ();
    }
    impl<P> Shape for SyncArg<P> {
        type Take = ();
    }
    impl Shape for AsyncNoArg {
        type Take = ();
    }
    impl<P: 'static> Shape for AsyncArg<P> {
        type Take = fn(&P) -> P;
    }
    impl<M: Shape> Shape for Diverges<M> {
        type Take = M::Take;
    }

    /// A handler shape whose payload has what the shape needs: an async handler's payload
    /// is `Clone`. Asked by `subscribe` once the shape is chosen, so that rustc reports a
    /// payload that is not `Clone` as such (and suggests the derive), rather than a
    /// function that is no handler. A helper generic over handlers (`H: Handler<M>`) that
    /// calls `subscribe` asks `M: Ready` too.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::plumbing::Ready;
    /// use ventus::{EventLinker, Handler, SubscribeError, Subscription};
    ///
    /// fn link<H: Handler<M>, M: Ready>(linker: &EventLinker, handler: H) -> Result<Subscription, SubscribeError> {
    ///     linker.on("Tick").subscribe(handler)
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// link(&linker, |n: u32| async move { n + 1 })?;
    /// assert_eq!(linker.subscriber_count(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub trait Ready: Shape {
        /// What the shape needs from the payload.
        #[doc(hidden)]
        fn take() -> Self::Take;
    }

    impl Ready for SyncNoArg {
        fn take() {}
    }
    impl<P> Ready for SyncArg<P> {
        fn take() {}
    }
    impl Ready for AsyncNoArg {
        fn take() {}
    }
    impl<P: Clone + 'static> Ready for AsyncArg<P> {
        fn take() -> fn(&P) -> P {
            P::clone
        }
    }
    impl<M: Ready> Ready for Diverges<M> {
        fn take() -> M::Take {
            M::take()
        }
    }

    /// Names the never type `!` on stable Rust, as the output of `fn() -> !`, so that
    /// [`HandlerOutput`](super::HandlerOutput) can be implemented for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::plumbing::FnOutput;
    ///
    /// let answer: <fn() -> u8 as FnOutput>::Output = 42;
    /// assert_eq!(answer, 42);
    /// ```
    pub trait FnOutput {
        /// What the function returns.
        type Output;
    }

    impl<T> FnOutput for fn() -> T {
        type Output = T;
    }

    /// Whether a handler of shape `M` may be linked to events whose payload is `Self`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::plumbing::{Accepts, AsyncNoArg, SyncArg, Typed, Untyped};
    ///
    /// fn accepted<K: Accepts<M>, M>() -> bool {
    ///     true
    /// }
    /// assert!(accepted::<Typed<u32>, SyncArg<u32>>());
    /// assert!(accepted::<Typed<u32>, AsyncNoArg>());
    /// assert!(accepted::<Untyped, SyncArg<String>>(), "names take any shape");
    /// ```
    #[diagnostic::on_unimplemented(
        message = "this handler does not take the payload of the event it is linked to",
        label = "the handler's shape is `{M}`",
        note = "the event carries `{Self}`: take `&P` (sync), `P` (async), or no argument"
    )]
    pub trait Accepts<M> {}

    impl<M> Accepts<M> for Untyped {}
    impl<P> Accepts<SyncNoArg> for Typed<P> {}
    impl<P> Accepts<SyncArg<P>> for Typed<P> {}
    impl<P> Accepts<AsyncNoArg> for Typed<P> {}
    impl<P> Accepts<AsyncArg<P>> for Typed<P> {}
    impl<P, M> Accepts<Diverges<M>> for Typed<P> where Typed<P>: Accepts<M> {}
}

/// A function or closure that can be linked to events.
///
/// `Marker` tells the shapes apart and is always inferred (the marker types are in
/// [`plumbing`](crate::plumbing)). The accepted shapes:
///
/// | shape | argument | runs |
/// |---|---|---|
/// | `fn() -> R` | none | when polled, to its end |
/// | `fn(&P) -> R` | the payload by reference | when polled, to its end |
/// | `fn() -> impl Future<Output = R>` | none | interleaved with the other handlers |
/// | `fn(P) -> impl Future<Output = R>` | a clone of the payload (`P: Clone`) | interleaved |
///
/// `R` is `()`, a value (any [`HandlerOutput`]), or `Result<T, E>` with `E` convertible
/// into a [`BoxError`]; an `Err` takes the failure path. A handler that takes
/// [`AnyEvent`] (by reference, or by value when async) receives the emission's name, id,
/// time and payload whatever event it was linked to. An emission whose payload none of
/// the event's handlers takes is refused with
/// [`EmitError::PayloadType`](crate::EmitError::PayloadType) before any handler runs; on
/// an event whose handlers take different types, a handler of another type than the
/// emitted one fails with [`HandlerErrorKind::PayloadType`] and the others still run.
///
/// A handler that never returns (`|| todo!()`, `|| async { panic!("..") }`) is accepted
/// and takes the failure path with its panic. An async handler cannot borrow the payload:
/// `subscribe` refuses `async fn f(order: &Order)` with
/// [`SubscribeError::AsyncHandlerBorrowsPayload`](crate::SubscribeError::AsyncHandlerBorrowsPayload).
///
/// # Examples
///
/// ```
/// use ventus::EventLinker;
///
/// fn no_argument() {}
/// fn by_reference(volts: &f64) -> bool {
///     *volts > 1.0
/// }
/// async fn by_value(volts: f64) -> Result<f64, std::io::Error> {
///     Ok(volts * 2.0)
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("Reading").subscribe(no_argument)?;
/// linker.on("Reading").subscribe(by_reference)?;
/// linker.on("Reading").subscribe(by_value)?;
/// linker.on("Reading").subscribe(|| async {})?;
/// assert_eq!(linker.subscriber_count(), 4);
/// # Ok(())
/// # }
/// ```
// rustc reports a handler that fits no shape against this trait, not against the bound
// that failed inside the shape (the shape is inferred, so every one is tried): each
// common mistake gets a note of its own, saying what to write.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a ventus handler",
    label = "not a handler",
    note = "a handler takes nothing or the payload: `|| ..` or `|p: &P| ..` (sync, by reference), `|| async ..` or `|p: P| async move ..` (async, by value); it is `Send + Sync + 'static`: capture state with `move`, shared through an `Arc`",
    note = "it returns `()`, `Result<T, E>` with `E: std::error::Error + Send + Sync + 'static` (or `anyhow::Error`, `Box<dyn Error + Send + Sync>`, `&'static str`, `String`), a standard value such as `u64` or `String`, or a type implementing `ventus::HandlerOutput`; wrap any other value in `ventus::Value(..)`",
    note = "a method taking `&self` takes two arguments: link a closure that owns the receiver, `move |p: &P| service.method(p)`",
    note = "a closure's argument needs its type, `|n: &u32| ..` rather than `|n| ..`; and `&str` is no payload type: take `&String` (emit a `String`) or `&&'static str` (emit a literal)"
)]
pub trait Handler<Marker: marker::Shape>: Send + Sync + Sized + 'static {
    /// The value a success callback receives.
    type Value: Send + 'static;

    /// Erases the handler together with its success step; `take` is what its shape needs
    /// from the payload (see [`Ready`](crate::plumbing::Ready)).
    #[doc(hidden)]
    fn into_erased<S: SuccessStep<Self::Value>>(
        self,
        success: S,
        take: Marker::Take,
    ) -> ErasedHandler;

    /// The reference type an async handler takes its payload as, if it does: stable Rust
    /// cannot refuse that shape in a bound without refusing `&'static str` payloads too,
    /// so `subscribe` refuses it with an error.
    #[doc(hidden)]
    fn borrowed_payload() -> Option<&'static str> {
        None
    }
}

#[inline]
fn finish<R: HandlerOutput, S: SuccessStep<R::Ok>>(
    out: R,
    success: &S,
    default: Option<&Arc<DefaultSuccess>>,
    deadline: Option<&Cell<Option<(Instant, Duration)>>>,
) -> Result<(), HandlerErrorKind> {
    // A sync handler cannot be interrupted: one that overran is reported when it returns,
    // and takes the failure path instead of the success one.
    if let Some(deadline) = deadline.and_then(Cell::get) {
        overran(deadline)?;
    }
    match out.into_result() {
        Ok(value) => {
            success.call(&value, default.map(|d| &**d));
            Ok(())
        }
        Err(err) => Err(HandlerErrorKind::Failed(err)),
    }
}

impl<F, R> Handler<marker::SyncNoArg> for F
where
    F: Fn() -> R + Send + Sync + 'static,
    R: HandlerOutput,
{
    type Value = R::Ok;

    fn into_erased<S: SuccessStep<R::Ok>>(self, success: S, _: ()) -> ErasedHandler {
        ErasedHandler {
            name: type_name::<F>(),
            wants_any_event: false,
            takes: None,
            call: ErasedCall::Sync(Box::new(move |ctx: &Ctx<'_>| {
                finish(self(), &success, ctx.default_success, Some(&ctx.deadline))
            })),
        }
    }
}

impl<F, P, R> Handler<marker::SyncArg<P>> for F
where
    F: Fn(&P) -> R + Send + Sync + 'static,
    P: Send + Sync + 'static,
    R: HandlerOutput,
{
    type Value = R::Ok;

    fn into_erased<S: SuccessStep<R::Ok>>(self, success: S, _: ()) -> ErasedHandler {
        ErasedHandler {
            name: type_name::<F>(),
            wants_any_event: TypeId::of::<P>() == TypeId::of::<AnyEvent>(),
            takes: declares::<P>(),
            call: ErasedCall::Sync(Box::new(move |ctx: &Ctx<'_>| {
                let payload = ctx.payload::<P>()?;
                finish(
                    self(payload),
                    &success,
                    ctx.default_success,
                    Some(&ctx.deadline),
                )
            })),
        }
    }
}

/// `Err(TimedOut)` if the handler's deadline has passed.
#[cold]
#[inline(never)]
fn overran((deadline, timeout): (Instant, Duration)) -> Result<(), HandlerErrorKind> {
    if Instant::now() > deadline {
        return Err(HandlerErrorKind::TimedOut(timeout));
    }
    Ok(())
}

/// What an async handler's future keeps of its success step: for the linker's default,
/// only the linker's callback if it has one, so starting the handler touches no reference
/// count shared by every emission; a share of the subscription's own callback otherwise
/// (which never calls the linker's).
enum OwnedStep<S> {
    LinkerDefault(Option<Arc<DefaultSuccess>>),
    Own(Arc<S>),
}

impl<S> OwnedStep<S> {
    /// What a subscription's async handler keeps of `success` for its futures.
    fn keep<T>(success: S) -> Option<Arc<S>>
    where
        S: SuccessStep<T>,
    {
        (!S::LINKER_DEFAULT).then(|| Arc::new(success))
    }

    /// The step one future of an emission offering `ctx` owns.
    #[inline]
    fn of(kept: &Option<Arc<S>>, ctx: &Ctx<'_>) -> Self {
        match kept {
            None => Self::LinkerDefault(ctx.default_success.cloned()),
            Some(own) => Self::Own(own.clone()),
        }
    }
}

fn finish_async<Fut, S>(fut: Fut, success: OwnedStep<S>) -> BoxFuture<Result<(), HandlerErrorKind>>
where
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
    S: SuccessStep<<Fut::Output as HandlerOutput>::Ok>,
{
    Box::pin(async move {
        // The user's future is dropped in place once it is done, its panic caught, so a
        // panicking `Drop` does not turn its result into a failure.
        let mut slot = std::pin::pin!(Some(fut));
        let out = std::future::poll_fn(|cx| match slot.as_mut().as_pin_mut() {
            Some(fut) => fut.poll(cx),
            // Never polled again once it returned `Ready`.
            None => std::task::Poll::Pending,
        })
        .await;
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| slot.set(None))) {
            tracing::error!(panic = %panic_message(&*panic), "ventus: dropping a finished handler's future panicked");
        }
        match &success {
            OwnedStep::LinkerDefault(default) => {
                finish(out, &LinkerDefault::new(), default.as_ref(), None)
            }
            OwnedStep::Own(own) => finish(out, &**own, None, None),
        }
    })
}

impl<F, Fut> Handler<marker::AsyncNoArg> for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
{
    type Value = <Fut::Output as HandlerOutput>::Ok;

    fn into_erased<S: SuccessStep<Self::Value>>(self, success: S, _: ()) -> ErasedHandler {
        let success = OwnedStep::keep(success);
        ErasedHandler {
            name: type_name::<F>(),
            wants_any_event: false,
            takes: None,
            call: ErasedCall::Async(Box::new(move |ctx: &Ctx<'_>| {
                Ok(finish_async(self(), OwnedStep::of(&success, ctx)))
            })),
        }
    }
}

// `P: Clone` is not asked here but by `marker::Ready`, once this shape is chosen: rustc
// then says that `P` is not `Clone`, not that the function is no handler.
impl<F, P, Fut> Handler<marker::AsyncArg<P>> for F
where
    F: Fn(P) -> Fut + Send + Sync + 'static,
    P: Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
{
    type Value = <Fut::Output as HandlerOutput>::Ok;

    fn borrowed_payload() -> Option<&'static str> {
        borrowed::<P>()
    }

    fn into_erased<S: SuccessStep<Self::Value>>(
        self,
        success: S,
        clone: fn(&P) -> P,
    ) -> ErasedHandler {
        let success = OwnedStep::keep(success);
        ErasedHandler {
            name: type_name::<F>(),
            wants_any_event: TypeId::of::<P>() == TypeId::of::<AnyEvent>(),
            takes: declares::<P>(),
            call: ErasedCall::Async(Box::new(move |ctx: &Ctx<'_>| {
                let payload = clone(ctx.payload::<P>()?);
                Ok(finish_async(self(payload), OwnedStep::of(&success, ctx)))
            })),
        }
    }
}

/// `P`'s name if it is a reference, for an async handler's payload (see
/// [`Handler::borrowed_payload`]).
fn borrowed<P: 'static>() -> Option<&'static str> {
    // `&'static str` is the one reference a payload often is (a string literal), and an
    // `async fn f(name: &str)` does receive it.
    let payload = type_name::<P>();
    (payload.starts_with('&') && TypeId::of::<P>() != TypeId::of::<&'static str>())
        .then_some(payload)
}

/// `!`, named on stable Rust. A block that only panics (`async { todo!() }`) has this
/// type: the handlers below make such natural first handlers compile, and run them to
/// their panic, which takes the failure path. They have no value, so no success step.
type Never = <fn() -> ! as marker::FnOutput>::Output;

impl<F> Handler<marker::Diverges<marker::SyncNoArg>> for F
where
    F: Fn() -> Never + Send + Sync + 'static,
{
    type Value = ();

    fn into_erased<S: SuccessStep<()>>(self, _success: S, _: ()) -> ErasedHandler {
        ErasedHandler {
            name: type_name::<F>(),
            wants_any_event: false,
            takes: None,
            call: ErasedCall::Sync(Box::new(move |_: &Ctx<'_>| match self() {})),
        }
    }
}

impl<F, P> Handler<marker::Diverges<marker::SyncArg<P>>> for F
where
    F: Fn(&P) -> Never + Send + Sync + 'static,
    P: Send + Sync + 'static,
{
    type Value = ();

    fn into_erased<S: SuccessStep<()>>(self, _success: S, _: ()) -> ErasedHandler {
        ErasedHandler {
            name: type_name::<F>(),
            wants_any_event: TypeId::of::<P>() == TypeId::of::<AnyEvent>(),
            takes: declares::<P>(),
            call: ErasedCall::Sync(Box::new(move |ctx: &Ctx<'_>| {
                match self(ctx.payload::<P>()?) {}
            })),
        }
    }
}

fn diverging<Fut: Future<Output = Never> + Send + 'static>(fut: Fut) -> HandlerFuture {
    // The `!` of `fut.await` coerces to the declared output.
    async fn run<Fut: Future<Output = Never>>(fut: Fut) -> Result<(), HandlerErrorKind> {
        fut.await
    }
    Box::pin(run(fut))
}

impl<F, Fut> Handler<marker::Diverges<marker::AsyncNoArg>> for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Never> + Send + 'static,
{
    type Value = ();

    fn into_erased<S: SuccessStep<()>>(self, _success: S, _: ()) -> ErasedHandler {
        ErasedHandler {
            name: type_name::<F>(),
            wants_any_event: false,
            takes: None,
            call: ErasedCall::Async(Box::new(move |_: &Ctx<'_>| Ok(diverging(self())))),
        }
    }
}

impl<F, P, Fut> Handler<marker::Diverges<marker::AsyncArg<P>>> for F
where
    F: Fn(P) -> Fut + Send + Sync + 'static,
    P: Send + Sync + 'static,
    Fut: Future<Output = Never> + Send + 'static,
{
    type Value = ();

    fn borrowed_payload() -> Option<&'static str> {
        borrowed::<P>()
    }

    fn into_erased<S: SuccessStep<()>>(self, _success: S, clone: fn(&P) -> P) -> ErasedHandler {
        ErasedHandler {
            name: type_name::<F>(),
            wants_any_event: TypeId::of::<P>() == TypeId::of::<AnyEvent>(),
            takes: declares::<P>(),
            call: ErasedCall::Async(Box::new(move |ctx: &Ctx<'_>| {
                Ok(diverging(self(clone(ctx.payload::<P>()?))))
            })),
        }
    }
}

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
    name: EventName,
    id: EmissionId,
    time: SystemTime,
    payload: Option<SharedPayload>,
    payload_type: Option<&'static str>,
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
