//! What handlers return, and the success callbacks that receive it.

use std::any::Any;

use super::{guard_callback, BoxError, DefaultSuccess};

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
