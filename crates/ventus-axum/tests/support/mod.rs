//! A real server on a loopback port and a real HTTP/1 client for it.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A safety net so a broken test fails instead of hanging; never used to wait for work.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Fails the test if `future` does not finish within [`LIMIT`].
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(LIMIT, future).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: still waiting after {LIMIT:?}"),
    }
}

/// Polls `future` once, from the calling task.
pub async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
}

/// `axum::serve` on `127.0.0.1:0`, with a graceful shutdown that `stop` triggers.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub async fn start(app: Router) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Graceful shutdown: stops accepting, waits for open connections to close.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            within("server shutdown", task)
                .await
                .expect("server task")
                .expect("server result");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A test that failed before `stop`: do not leave the server running.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// One HTTP/1 connection.
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
    conn: Option<JoinHandle<()>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        Self {
            sender,
            conn: Some(conn),
        }
    }

    /// Sends `req` and returns the response head with its body still to read.
    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Response<Incoming> {
        within("connection ready", self.sender.ready())
            .await
            .expect("connection ready");
        within("response head", self.sender.send_request(req))
            .await
            .expect("response")
    }

    /// Sends `req`; the error if the connection failed before a response came.
    pub async fn try_send(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, hyper::Error> {
        within("connection ready", self.sender.ready()).await?;
        within("response head", self.sender.send_request(req)).await
    }

    /// Sends `req` and reads the whole response.
    pub async fn call(&mut self, req: Request<Full<Bytes>>) -> (StatusCode, String) {
        let response = self.send(req).await;
        let status = response.status();
        let body = within("response body", response.into_body().collect())
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            String::from_utf8(body.to_vec()).expect("utf-8 body"),
        )
    }

    pub async fn get(&mut self, path: &str) -> (StatusCode, String) {
        self.call(request("GET", path, "")).await
    }

    pub async fn post_json(&mut self, path: &str, json: &str) -> (StatusCode, String) {
        self.call(request("POST", path, json)).await
    }

    /// Closes the connection (the socket is dropped).
    pub async fn disconnect(mut self) {
        if let Some(conn) = self.conn.take() {
            conn.abort();
            let _ = conn.await;
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.abort();
        }
    }
}

pub fn request(method: &str, path: &str, json: &str) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1");
    if !json.is_empty() {
        builder = builder.header("content-type", "application/json");
    }
    builder
        .body(Full::new(Bytes::copy_from_slice(json.as_bytes())))
        .expect("request")
}
