//! Run with: cargo run -p ventus-axum --example web
//!
//! An axum app whose `POST /users` answers `201 Created` and emits `UserCreated`; the
//! event's handler, a stand-in for a welcome mail, runs after the response has been
//! produced and prints a line naming the user. Ctrl-C stops the server gracefully,
//! drains the emissions still running (10 s at most), prints the drain report and exits
//! with status 0. The port is `$PORT`, 3000 if unset.
//!
//! ```text
//! $ curl -i -X POST localhost:3000/users -H 'content-type: application/json' -d '{"name": "Ada"}'
//! HTTP/1.1 201 Created
//! ...
//! created Ada
//! ```
//!
//! and the server prints `welcome mail sent to Ada` once the response is out.
//! `RUST_LOG=ventus_axum=debug` shows the hand-offs and spans.
#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use ventus::{Event, EventLinker, TokioEventEmitter};
use ventus_axum::{Background, BackgroundEmitter, HoldError, VentusLayer};

/// The event: a user was created.
#[derive(Debug, Clone)]
struct UserCreated {
    name: String,
}

impl Event for UserCreated {}

#[derive(Deserialize)]
struct NewUser {
    name: String,
}

async fn index() -> &'static str {
    "ventus-axum example: POST /users with {\"name\": \"...\"}\n"
}

async fn create_user(
    emitter: BackgroundEmitter,
    Json(user): Json<NewUser>,
) -> (StatusCode, String) {
    let reply = format!("created {}\n", user.name);
    match emitter.emit_event(UserCreated { name: user.name }) {
        Ok(()) => (StatusCode::CREATED, reply),
        Err(err @ HoldError::Closed { .. }) => (StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
    }
}

/// The welcome mail, after the response.
async fn send_welcome_mail(user: UserCreated) {
    tokio::time::sleep(Duration::from_millis(50)).await; // the mail server's round trip
    println!("welcome mail sent to {}", user.name);
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,ventus=warn".into()),
        )
        .init();

    let linker = EventLinker::builder().build()?;
    linker
        .on_event::<UserCreated>()
        .name("welcome-mail")
        .subscribe(send_welcome_mail)?;
    let background = Background::new(TokioEventEmitter::with_linker(&linker));

    let app = Router::new()
        .route("/", get(index))
        .route("/users", post(create_user))
        .layer(VentusLayer::new())
        .with_state(background.clone());

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            println!("shutting down: no new connections; draining emissions");
        })
        .await?;

    let report = background.shutdown(Duration::from_secs(10)).await;
    println!(
        "drained: {} finished, {} cancelled, {} refused, {} abandoned",
        report.finished, report.cancelled, report.refused, report.abandoned
    );
    Ok(())
}
