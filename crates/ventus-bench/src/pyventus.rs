//! `--pyventus`: times Pyventus 0.8 on W1 (sync context, one sync handler, string event,
//! `AsyncIOEventEmitter.emit("E", i)`) in a virtualenv under `target/ventus-bench/venv`,
//! and prints the ratio to ventus.

use std::path::Path;
use std::process::Command;

const SCRIPT: &str = r#"
import json, sys, time, statistics
import pyventus
try:
    from pyventus.events import AsyncIOEventEmitter, EventLinker
except ImportError:
    from pyventus import AsyncIOEventEmitter, EventLinker

class Isolated(EventLinker): ...

count = 0
def handler(i):
    global count
    count += 1

Isolated.subscribe("E", event_callback=handler)
emitter = AsyncIOEventEmitter(event_linker=Isolated)

n = int(sys.argv[1])
rounds = int(sys.argv[2])
for i in range(200):
    emitter.emit("E", i)
count = 0
per = []
for r in range(rounds):
    t0 = time.perf_counter_ns()
    for i in range(n):
        emitter.emit("E", i)
    per.append((time.perf_counter_ns() - t0) / n)
if count != n * rounds:
    print(json.dumps({"error": f"handler ran {count} times, expected {n * rounds}"}))
    sys.exit(1)
print(json.dumps({"version": pyventus.__version__, "ns_per_emit": statistics.median(per)}))
"#;

fn run_ok(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Creates the virtualenv if needed, installs Pyventus 0.8, times W1 and prints the
/// ratio to `ventus_w1_ns` (ventus's W1 K=1 median of this run, if it ran).
pub(crate) fn run(dir: &Path, ventus_w1_ns: Option<f64>, quick: bool) -> Result<(), String> {
    let venv = dir.join("venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        eprintln!("creating {} …", venv.display());
        run_ok(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    eprintln!("installing pyventus==0.8.* …");
    run_ok(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg("pyventus==0.8.*"),
    )?;
    let script = dir.join("pyventus_w1.py");
    std::fs::write(&script, SCRIPT).map_err(|e| format!("cannot write the script: {e}"))?;
    let (n, rounds) = if quick { ("2000", "5") } else { ("10000", "7") };
    let out = run_ok(Command::new(&python).arg(&script).args([n, rounds]))?;
    let v: serde_json::Value =
        serde_json::from_str(out.trim()).map_err(|e| format!("unreadable output {out:?}: {e}"))?;
    let py_ns = v["ns_per_emit"]
        .as_f64()
        .ok_or_else(|| format!("no timing in {out:?}"))?;
    let version = v["version"].as_str().unwrap_or("?");
    println!(
        "\n## Pyventus {version} on this machine (W1: sync context, K=1, AsyncIOEventEmitter)\n"
    );
    println!("Pyventus: {py_ns:.0} ns per emission");
    if let Some(ventus) = ventus_w1_ns {
        println!(
            "ventus:   {ventus:.1} ns per emission → Pyventus / ventus = {:.0}×",
            py_ns / ventus
        );
    } else {
        println!("(W1 was not run, so there is no ventus number to compare with)");
    }
    let summary = serde_json::json!({
        "pyventus_version": version,
        "pyventus_ns": py_ns,
        "ventus_ns": ventus_w1_ns,
        "ratio": ventus_w1_ns.map(|v| py_ns / v),
    });
    std::fs::write(
        dir.join("pyventus.json"),
        serde_json::to_string_pretty(&summary).unwrap_or_default(),
    )
    .map_err(|e| format!("cannot write pyventus.json: {e}"))?;
    Ok(())
}
