//! The layer that holds a request's emissions until its response is produced.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::background::Background;
use crate::background::Slot;
use crate::policy::RunPolicy;
use crate::slot::SlotHandle;

/// Holds the emissions a request's handler makes, and hands them on once its response
/// has been produced.
///
/// # When emissions run
///
/// Exactly when **the inner service's response future resolves** with a response: at
/// that poll, before the response is returned to the server (so before hyper writes its
/// first byte), each held emission is either skipped by the [`RunPolicy`] — the
/// emission's own, else the layer's — or handed to its [`Background`], which emits it
/// on the application's emitter. Its processor runs it concurrently with the writing of
/// the response, which it never delays: the layer does not wait for it, and the
/// response body is not wrapped.
/// From then on the emission no longer depends on the connection: a client that
/// disconnects, a body that fails to send, or a server that closes the connection does
/// not touch it. Only [`Background::shutdown`] can cancel it.
///
/// When the response future is dropped before it resolves (the handler was cancelled:
/// a timeout layer, a client gone while the handler ran; or it panicked), or resolves
/// with an error, the held emissions are *dropped*: counted in
/// [`BackgroundMetrics::dropped`](crate::BackgroundMetrics::dropped) and logged at
/// `warn` level with the event, method and path. Either way the request's slot is
/// sealed, and a later `emit*` on its extractor returns
/// [`HoldError::RequestFinished`](crate::HoldError::RequestFinished).
///
/// Put the layer inside any tracing layer (`TraceLayer` added *after* this one, so it
/// wraps it), so the handler runs in the request's span. With `VentusLayer`s at several
/// levels (a router's and a nested router's), the innermost — the closest to the
/// handler — holds the request's emissions, and its policy is the router's.
///
/// # Examples
///
/// ```
/// use axum::{routing::get, Router};
/// use ventus_axum::{Background, BackgroundEmitter, RunPolicy, VentusLayer};
///
/// async fn hello(emitter: BackgroundEmitter) -> &'static str {
///     emitter.emit("Greeted").ok();
///     "hello"
/// }
///
/// let background = Background::new(ventus::TokioEventEmitter::new());
/// let public: Router<Background> = Router::new()
///     .route("/", get(hello))
///     .layer(VentusLayer::new()); // 2xx only
/// let audited: Router<Background> = Router::new()
///     .route("/audit", get(hello))
///     .layer(VentusLayer::new().policy(RunPolicy::Always)); // whatever the status
/// let app: Router = public.merge(audited).with_state(background);
/// # let _ = app;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct VentusLayer {
    policy: RunPolicy,
}

impl VentusLayer {
    /// A layer with the default policy, [`RunPolicy::OnSuccess`].
    ///
    /// # Examples
    ///
    /// ```
    /// let layer = ventus_axum::VentusLayer::new();
    /// assert_eq!(layer.run_policy(), ventus_axum::RunPolicy::OnSuccess);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the policy of the router the layer is on; an emission's own
    /// ([`BackgroundEmitter::with_policy`](crate::BackgroundEmitter::with_policy)) wins
    /// over it.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus_axum::{RunPolicy, VentusLayer};
    ///
    /// let layer = VentusLayer::new().policy(RunPolicy::Always);
    /// assert_eq!(layer.run_policy(), RunPolicy::Always);
    /// ```
    pub fn policy(mut self, policy: RunPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The layer's policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus_axum::{RunPolicy, VentusLayer};
    ///
    /// assert_eq!(VentusLayer::new().policy(RunPolicy::Never).run_policy(), RunPolicy::Never);
    /// ```
    pub fn run_policy(&self) -> RunPolicy {
        self.policy
    }
}

impl<S> Layer<S> for VentusLayer {
    type Service = VentusService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VentusService {
            inner,
            policy: self.policy,
        }
    }
}

/// The service [`VentusLayer`] wraps around a route or router.
///
/// # Examples
///
/// ```
/// use tower_layer::Layer;
///
/// let router: axum::Router = axum::Router::new();
/// let service: ventus_axum::VentusService<axum::Router> = ventus_axum::VentusLayer::new().layer(router);
/// # let _ = service;
/// ```
#[derive(Clone, Copy)]
pub struct VentusService<S> {
    inner: S,
    policy: RunPolicy,
}

impl<S: fmt::Debug> fmt::Debug for VentusService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VentusService")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .finish()
    }
}

impl<S, B, R> Service<Request<B>> for VentusService<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let slot = Arc::new(Slot::new(req.method().clone(), req.uri().clone()));
        req.extensions_mut().insert(SlotHandle(slot.clone()));
        ResponseFuture {
            inner: self.inner.call(req),
            guard: Guard {
                slot: Some(slot),
                policy: self.policy,
            },
        }
    }
}

pin_project! {
    /// The response future of [`VentusService`]: the inner service's, followed, when it
    /// resolves, by the hand-off of the request's emissions.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_service::Service;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut service = tower_layer::Layer::layer(&ventus_axum::VentusLayer::new(), axum::Router::new());
    /// let future: ventus_axum::ResponseFuture<_> = service.call(axum::http::Request::new(axum::body::Body::empty()));
    /// assert_eq!(future.await.unwrap().status(), axum::http::StatusCode::NOT_FOUND);
    /// # }
    /// ```
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        guard: Guard,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("resolved", &self.guard.slot.is_none())
            .finish_non_exhaustive()
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Some(slot) = this.guard.slot.take() {
            match &result {
                Ok(response) => {
                    let status = response.status();
                    for pending in slot.seal() {
                        Background::settle(pending, &slot, status, this.guard.policy);
                    }
                }
                Err(_) => {
                    for pending in slot.seal() {
                        Background::drop_pending(pending, &slot, "the service returned an error");
                    }
                }
            }
        }
        Poll::Ready(result)
    }
}

/// Seals the slot when the response future is dropped before it resolved.
struct Guard {
    /// `Some` until the response future resolved.
    slot: Option<Arc<Slot>>,
    policy: RunPolicy,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            for pending in slot.seal() {
                Background::drop_pending(
                    pending,
                    &slot,
                    "the request ended before its response was produced",
                );
            }
        }
    }
}
