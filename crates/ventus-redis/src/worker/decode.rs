//! Payload types: how a worker turns a payload's bytes into what its handlers take.

use std::future::Future;
use std::pin::Pin;

use serde::de::DeserializeOwned;
use ventus::{EmissionReport, EmitError, EventEmitter};

pub(super) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Turns a payload's bytes into the type the worker's handlers take, and emits it.
pub(super) trait Decode: Send + Sync {
    fn emit<'a>(
        &self,
        emitter: &'a EventEmitter,
        event: &'a str,
        payload: &[u8],
    ) -> Result<BoxFuture<'a, Result<EmissionReport, EmitError>>, serde_json::Error>;
}

pub(super) struct Json<T>(pub(super) std::marker::PhantomData<fn() -> T>);

impl<T: DeserializeOwned + Send + Sync + 'static> Decode for Json<T> {
    fn emit<'a>(
        &self,
        emitter: &'a EventEmitter,
        event: &'a str,
        payload: &[u8],
    ) -> Result<BoxFuture<'a, Result<EmissionReport, EmitError>>, serde_json::Error> {
        let value: T = serde_json::from_slice(payload)?;
        Ok(Box::pin(emitter.run_with(event, value)))
    }
}

pub(super) struct TypedEvent<E>(pub(super) std::marker::PhantomData<fn() -> E>);

impl<E: ventus::Event + DeserializeOwned> Decode for TypedEvent<E> {
    fn emit<'a>(
        &self,
        emitter: &'a EventEmitter,
        _event: &'a str,
        payload: &[u8],
    ) -> Result<BoxFuture<'a, Result<EmissionReport, EmitError>>, serde_json::Error> {
        let value: E = serde_json::from_slice(payload)?;
        Ok(Box::pin(emitter.run_event(value)))
    }
}
