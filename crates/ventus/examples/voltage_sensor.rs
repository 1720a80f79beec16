//! Run with: cargo run --example voltage_sensor
//!
//! Pyventus's practical example: a voltage sensor takes a bounded number of readings and
//! emits `"LowVoltage"` when a reading is below 0.8 V and `"HighVoltage"` when it is above
//! 1.2 V, each with the reading as an `f64` payload. ONE handler is linked to both events
//! with `linker.on(["LowVoltage", "HighVoltage"])` and prints the alert.
//!
//! The readings come from a tiny linear congruential generator with a fixed seed, so the
//! output is the same on every run. The sensor runs in an async context (a current-thread
//! tokio runtime), as a real sensor loop would: each `emit_with` only schedules its
//! emission, the loop paces its readings with a short tokio interval (pacing only, never
//! to wait for handlers), and `wait_for_tasks().await` at the end makes sure every alert
//! was handled before the summary line. The handler runs while the loop awaits its next
//! tick, so each alert normally prints right after the reading that caused it; the only
//! order the example relies on is that every alert prints before the summary.
//!
//! Output: one `reading N: X.XXX V` line per reading, an `alert: low|high voltage` line for
//! each of the 8 readings out of range (5 low, 3 high), then `12 readings, 8 alerts`.

#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ventus::{EventLinker, TokioEventEmitter};

const LOW_THRESHOLD: f64 = 0.8;
const HIGH_THRESHOLD: f64 = 1.2;
const READINGS: usize = 12;

/// A deterministic stand-in for a voltage sensor: readings between 0.5 V and 1.5 V.
struct VoltageSensor {
    state: u32,
}

impl VoltageSensor {
    fn new(seed: u32) -> Self {
        Self { state: seed }
    }

    fn read(&mut self) -> f64 {
        // Numerical Recipes' LCG; the top 16 bits are the best mixed.
        self.state = self
            .state
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        let unit = f64::from(self.state >> 16) / f64::from(u16::MAX);
        0.5 + unit
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let linker = EventLinker::builder().name("sensors").build()?;

    let alerts = Arc::new(AtomicUsize::new(0));
    let counted = alerts.clone();
    linker
        .on(["LowVoltage", "HighVoltage"])
        .subscribe(move |volts: &f64| {
            counted.fetch_add(1, Ordering::Relaxed);
            let kind = if *volts < LOW_THRESHOLD {
                "low"
            } else {
                "high"
            };
            println!("  alert: {kind} voltage {volts:.3} V");
        })?;

    let emitter = TokioEventEmitter::with_linker(&linker);
    let mut sensor = VoltageSensor::new(42);
    // Paces the readings; it never waits for handlers.
    let mut interval = tokio::time::interval(Duration::from_millis(5));

    for n in 1..=READINGS {
        interval.tick().await;
        let volts = sensor.read();
        println!("reading {n:2}: {volts:.3} V");
        if volts < LOW_THRESHOLD {
            emitter.emit_with("LowVoltage", volts)?;
        } else if volts > HIGH_THRESHOLD {
            emitter.emit_with("HighVoltage", volts)?;
        }
    }

    emitter.wait_for_tasks().await;
    println!(
        "{READINGS} readings, {} alerts",
        alerts.load(Ordering::Relaxed)
    );
    Ok(())
}
