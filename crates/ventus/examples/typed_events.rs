//! Run with: cargo run --example typed_events
//!
//! Events beyond plain strings, in a sync context (no runtime: each `emit` returns after
//! its handlers ran, and handlers start in subscription order, so the output is fixed):
//!
//! - `OrderCreated`, a struct implementing `ventus::Event`, emitted with `emit_event`; its
//!   event name is the type's name, and handlers take `&OrderCreated`;
//! - `charge`, a handler on `OrderCreated` that returns `Result<Receipt, PaymentDeclined>`:
//!   its success callback (`on_success(|r: &Receipt| ..)`) prints the receipt, its failure
//!   callback (`on_failure`) prints the declined payment;
//! - `PaymentDeclined`, a `std::error::Error`, emitted with `emit_error` and handled with
//!   `linker.on_error::<PaymentDeclined>()`;
//! - an "any event" logger (`linker.on_any()`) that prints the name, emission id and
//!   payload type of every emission, including a string event with no payload.
//!
//! Each emission prints an `[any]` line first (the logger was subscribed first), then the
//! lines of the handlers linked to that event.

#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use std::fmt;
use std::sync::{Arc, Mutex};

use ventus::{AnyEvent, Event, EventLinker, TokioEventEmitter};

#[derive(Debug, Clone)]
struct OrderCreated {
    id: u64,
    total_cents: u64,
}

impl Event for OrderCreated {}

#[derive(Debug, Clone)]
struct PaymentDeclined {
    order_id: u64,
    reason: &'static str,
}

impl fmt::Display for PaymentDeclined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "payment for order {} declined: {}",
            self.order_id, self.reason
        )
    }
}

impl std::error::Error for PaymentDeclined {}

/// What a successful charge returns; its success callback receives it.
#[derive(Debug)]
struct Receipt {
    order_id: u64,
    charged_cents: u64,
}

const CARD_LIMIT_CENTS: u64 = 100_000;

fn charge(order: &OrderCreated) -> Result<Receipt, PaymentDeclined> {
    if order.total_cents > CARD_LIMIT_CENTS {
        return Err(PaymentDeclined {
            order_id: order.id,
            reason: "over the card limit",
        });
    }
    Ok(Receipt {
        order_id: order.id,
        charged_cents: order.total_cents,
    })
}

fn main() -> anyhow::Result<()> {
    let linker = EventLinker::builder().name("shop").build()?;

    // Every emission of this linker, whatever its name.
    linker.on_any().subscribe(|event: &AnyEvent| {
        println!(
            "[any] {} ({}) payload: {}",
            event.name(),
            event.id(),
            event.payload_type().unwrap_or("none")
        );
    })?;

    linker
        .on_event::<OrderCreated>()
        .subscribe(|order: &OrderCreated| {
            println!(
                "  order {} created: ${}.{:02}",
                order.id,
                order.total_cents / 100,
                order.total_cents % 100
            );
        })?;

    // Declined payments, kept so `main` can report them as error events afterwards.
    let declined = Arc::new(Mutex::new(Vec::new()));
    let failures = declined.clone();
    linker
        .on_event::<OrderCreated>()
        .on_success(|receipt: &Receipt| {
            println!(
                "  charged order {}: {} cents",
                receipt.order_id, receipt.charged_cents
            );
        })
        .on_failure(move |err: &ventus::HandlerError| {
            let cause =
                std::error::Error::source(err).and_then(|e| e.downcast_ref::<PaymentDeclined>());
            match cause {
                Some(declined) => {
                    println!("  charge failed: {declined}");
                    failures.lock().unwrap().push(declined.clone());
                }
                None => println!("  charge failed: {err}"),
            }
        })
        .subscribe(charge)?;

    linker
        .on_error::<PaymentDeclined>()
        .subscribe(|err: &PaymentDeclined| {
            println!("  notifying customer of order {}: {err}", err.order_id);
        })?;

    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit_event(OrderCreated {
        id: 1,
        total_cents: 4_999,
    })?;
    emitter.emit_event(OrderCreated {
        id: 2,
        total_cents: 250_000,
    })?;

    // Each declined payment becomes an error event of its own.
    let declined = std::mem::take(&mut *declined.lock().unwrap());
    for err in declined {
        emitter.emit_error(err)?;
    }

    emitter.emit("ShopClosed")?;
    Ok(())
}
