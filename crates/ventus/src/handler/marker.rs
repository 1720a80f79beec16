//! Marker types that tell the [`Handler`](crate::Handler) shapes apart, re-exported in
//! [`crate::plumbing`].

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

pub use crate::event::{Typed, Untyped};

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
