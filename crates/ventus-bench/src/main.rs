//! The ventus benchmark report.
//!
//! `cargo run --release -p ventus-bench` measures every workload beside a hand-written
//! floor in the same run (rounds interleaved, medians taken), checks after every batch
//! that every handler ran exactly as often as it should, and writes
//! `target/ventus-bench/report.{json,md,svg}`. `-- --quick` runs every workload with
//! fewer and shorter rounds; `-- --only W3` runs the workloads whose name starts with
//! `W3`; `-- --pyventus` also times Pyventus 0.8 on W1 in a virtualenv under
//! `target/ventus-bench/venv`; `-- --axum` adds H1 and H2, ventus-axum against a plain
//! axum handler over loopback HTTP; `-- --redis` (or `--only R…`) adds R1–R3,
//! ventus-redis against raw redis-rs on a private `redis-server`. A failed check makes the run exit with status 1.
//!
//! See `docs/performance.md`.
#![allow(clippy::print_stdout)]

mod alloc;
mod floors;
mod harness;
mod pyventus;
mod redis;
mod report;
mod w2;
mod w3;
mod w6;
mod w7;
mod w8;
mod w9;
mod web;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use harness::Settings;
use report::Row;

struct Args {
    quick: bool,
    pyventus: bool,
    axum: bool,
    redis: bool,
    only: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        quick: false,
        pyventus: false,
        axum: false,
        redis: false,
        only: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--pyventus" => args.pyventus = true,
            "--axum" => args.axum = true,
            "--redis" => args.redis = true,
            "--only" => args
                .only
                .push(it.next().ok_or("--only needs a workload name")?),
            // `cargo bench` passes `--bench` to every bench target; ignore it.
            "--bench" => {}
            "-h" | "--help" => {
                return Err(
                    "usage: ventus-bench [--quick] [--pyventus] [--axum] [--redis] [--only WORKLOAD]..."
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

/// Where the report goes: `$CARGO_TARGET_DIR/ventus-bench`, else the workspace's
/// `target/ventus-bench`.
fn out_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("ventus-bench")
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let s = Settings::new(args.quick);
    let wanted =
        |name: &str| args.only.is_empty() || args.only.iter().any(|o| name.starts_with(o.as_str()));
    let started = Instant::now();
    let mut rows: Vec<Row> = Vec::new();
    let mut step = |name: &str, f: &mut dyn FnMut() -> Vec<Row>| {
        if wanted(name) {
            let t = Instant::now();
            eprintln!("running {name} …");
            rows.extend(f());
            eprintln!("  {name} done in {:.1} s", t.elapsed().as_secs_f64());
        }
    };

    step("W1", &mut || {
        vec![workloads::w1(&s, 1, false), workloads::w1(&s, 10, false)]
    });
    step("W1t", &mut || {
        vec![workloads::w1(&s, 1, true), workloads::w1(&s, 10, true)]
    });
    step("W2s", &mut || {
        let mut rows = w2::w2(&s, 1, false);
        rows.extend(w2::w2(&s, 10, false));
        rows
    });
    step("W2a", &mut || {
        let mut rows = w2::w2(&s, 1, true);
        rows.extend(w2::w2(&s, 10, true));
        rows
    });
    step("W3", &mut || w3::w3(&s));
    step("W4", &mut || vec![workloads::w4(&s)]);
    step("W5", &mut || workloads::w5(&s));
    step("A", &mut || {
        let mut rows = vec![
            alloc::allocs_w1(1, false),
            alloc::allocs_w1(10, false),
            alloc::allocs_w1(1, true),
        ];
        rows.extend(alloc::allocs_async());
        rows
    });
    step("A2", &mut || vec![alloc::in_flight_bytes()]);
    step("M", &mut || alloc::memory());
    step("W6", &mut || w6::w6(&s));
    step("W7", &mut || w7::w7(&s));
    step("W8", &mut || w8::w8(&s));
    step("W9", &mut || w9::w9(&s));
    if args.axum {
        step("H", &mut || web::rows(&s));
    }
    // `--redis`, or an `--only` naming an R row, runs R1–R3 on a private redis-server.
    let redis_wanted = ["R1", "R2", "R3"].iter().any(|r| wanted(r))
        && (args.redis || args.only.iter().any(|o| o.starts_with('R')));
    if redis_wanted {
        match redis::Server::start() {
            Ok(server) => {
                step("R1", &mut || redis::r1(&s, &server));
                step("R2", &mut || redis::r2(&s, &server));
                step("R3", &mut || redis::r3(&s, &server));
            }
            Err(e) => eprintln!("--redis: skipping R1–R3: {e} (install redis-server to run them)"),
        }
    }

    let elapsed = started.elapsed();
    let mode = if s.quick { "quick" } else { "full" };
    let header = format!(
        "## ventus benchmark ({mode} run: {} rounds per workload, {} threads available, {:.0} s)",
        s.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        elapsed.as_secs_f64()
    );
    let md = report::markdown(&rows, &header);
    println!("{md}");

    let dir = out_dir();
    let mut status = ExitCode::SUCCESS;
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let dir = dir.canonicalize().unwrap_or(dir);
    let meta = serde_json::json!({
        "mode": mode,
        "rounds": s.rounds,
        "seconds": elapsed.as_secs_f64(),
        "threads_available": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "failures": harness::failures(),
    });
    let writes = [
        ("report.json", report::json(&rows, meta)),
        ("report.md", md.clone()),
    ];
    for (name, text) in writes {
        if let Err(e) = std::fs::write(dir.join(name), text) {
            eprintln!("cannot write {name}: {e}");
            status = ExitCode::FAILURE;
        }
    }
    if let Err(e) = report::svg(&rows, &dir.join("report.svg")) {
        eprintln!("cannot draw report.svg: {e}");
        status = ExitCode::FAILURE;
    }
    println!("report: {}/report.{{json,md,svg}}", dir.display());

    if args.pyventus {
        let ventus_w1 = rows
            .iter()
            .find(|r| r.workload == "W1" && r.param == "K=1")
            .map(|r| r.ventus);
        if let Err(e) = pyventus::run(&dir, ventus_w1, s.quick) {
            eprintln!("--pyventus: {e}");
            status = ExitCode::FAILURE;
        }
    }

    let failures = harness::failures();
    if !failures.is_empty() {
        eprintln!(
            "{} check(s) failed; the numbers above are not valid:",
            failures.len()
        );
        for f in &failures {
            eprintln!("  - {f}");
        }
        return ExitCode::FAILURE;
    }
    status
}
