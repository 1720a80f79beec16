//! Plumbing: the types and traits that appear in the bounds and type parameters of the
//! subscribing API, and that you rarely need to name.
//!
//! They tell handler shapes apart ([`SyncNoArg`], [`SyncArg`], [`AsyncNoArg`],
//! [`AsyncArg`], [`Diverges`] for those that never return, named with [`FnOutput`]),
//! check what a shape needs from its payload ([`Shape`], [`Ready`]), say which shapes an
//! event accepts ([`Untyped`], [`Typed`], [`Accepts`]), and carry a subscription's success callback through the builder
//! ([`LinkerDefault`], [`WithSuccess`], [`OnSuccess`], [`SuccessStep`]). Name them when
//! you write a helper that is generic over handlers or stores a
//! [`SubscribeBuilder`](crate::SubscribeBuilder) in a variable with a written type.
//!
//! # Examples
//!
//! ```
//! use ventus::plumbing::{LinkerDefault, Typed};
//! use ventus::{EventKey, EventLinker, SubscribeBuilder};
//!
//! const PRICE: EventKey<u32> = EventKey::new("Price");
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let linker = EventLinker::builder().build()?;
//! let builder: SubscribeBuilder<LinkerDefault, Typed<u32>> = linker.on(PRICE);
//! builder.subscribe(|cents: &u32| *cents > 100)?;
//! assert_eq!(linker.subscriber_count(), 1);
//! # Ok(())
//! # }
//! ```

pub use crate::handler::marker::{
    Accepts, AsyncArg, AsyncNoArg, Diverges, FnOutput, Ready, Shape, SyncArg, SyncNoArg, Typed,
    Untyped,
};
pub use crate::handler::{LinkerDefault, OnSuccess, SuccessStep, WithSuccess};
