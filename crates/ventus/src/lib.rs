//! ventus: event-driven programming for Rust, after the Python library Pyventus.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod claim;
mod emitter;
mod event;
mod handler;
mod linker;
mod processor;
mod subscription;

pub use crate::emitter::{Emission, EmissionId, EmitError, EventEmitter, EventEmitterBuilder, TokioEventEmitter};
pub use crate::event::{Event, EventKey, EventName, EventTarget, IntoEvents, InvalidEventName};
pub use crate::handler::{
    marker, AnyEvent, BoxError, Handler, HandlerError, HandlerErrorKind, HandlerOutput, LinkerDefault,
    OnSuccess, SuccessStep, Value, WithSuccess,
};
pub use crate::linker::{BuildError, EventLinker, EventLinkerBuilder, SubscribeError};
pub use crate::processor::{Processor, TokioProcessor};
pub use crate::subscription::{SubscribeBuilder, Subscription, SubscriptionGuard, SubscriptionId};
