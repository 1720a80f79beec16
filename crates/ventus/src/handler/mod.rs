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

mod any;
mod error;
pub(crate) mod marker;
mod output;

use std::any::{type_name, Any, TypeId};
use std::cell::{Cell, OnceCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

pub use self::any::AnyEvent;
pub(crate) use self::error::panic_message;
pub use self::error::{BoxError, HandlerError, HandlerErrorKind};
pub use self::output::{HandlerOutput, LinkerDefault, OnSuccess, SuccessStep, Value, WithSuccess};

use crate::event::EmissionId;
use crate::event::NameRef;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
/// A running async handler.
pub(crate) type HandlerFuture = BoxFuture<Result<(), HandlerErrorKind>>;
pub(crate) type SharedPayload = Arc<dyn Any + Send + Sync>;
/// A linker's default success callback: receives a handler's value.
pub(crate) type DefaultSuccess = dyn Fn(&dyn Any) + Send + Sync;
/// A failure callback: receives the failed handler's error.
pub(crate) type FailureCallback = dyn Fn(&HandlerError) + Send + Sync;

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
