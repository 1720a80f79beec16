//! Support for tests against real Redis servers and real worker processes.
//!
//! * [`RedisServer`]: a private `redis-server` on a free loopback port, with
//!   its own temporary directory, that a test can stop, kill and restart.
//! * [`ChildProcess`]: a worker binary run as a child process whose stdout
//!   the test waits on, and which the test can terminate or kill.
//! * [`Journal`]: a file several processes append to and the test reads.
//!
//! Nothing here sleeps to synchronise: readiness is a line on the child's
//! stdout, waited for with a bounded timeout, and a process' end is its exit
//! status, also waited for with a bounded timeout.
//!
//! The waits block the calling thread; in an async test, call them before
//! the work they wait for needs the runtime, or from `spawn_blocking`.
#![allow(dead_code, unreachable_pub, unused_imports)]

pub mod fixture;
pub mod journal;
pub mod wait;

pub use journal::{append_line, read_journal, Journal, JournalLine};

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server has to print `Ready to accept connections`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server has to exit after SIGTERM before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How many free ports [`RedisServer::start`] tries before giving up.
const PORT_TRIES: usize = 5;
/// How many lines of a server's log are kept for error messages.
const LOG_LINES: usize = 200;
/// What `redis-server` prints once it serves clients.
const READY_LINE: &str = "Ready to accept connections";

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts a thread that reads `out` line by line until end of file, giving
/// each line (lossily decoded, without its line break) to `each` and sending
/// it on `tx` while anyone listens.
fn spawn_line_reader<R, F>(name: String, out: R, tx: Sender<String>, mut each: F)
where
    R: Read + Send + 'static,
    F: FnMut(&str) + Send + 'static,
{
    thread::Builder::new()
        .name(name)
        .spawn(move || {
            let mut out = BufReader::new(out);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match out.read_until(b'\n', &mut buf) {
                    Ok(0) => break,
                    Ok(_) => {
                        while buf.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                            buf.pop();
                        }
                        let line = String::from_utf8_lossy(&buf).into_owned();
                        each(&line);
                        let _ = tx.send(line);
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        })
        .expect("spawn a stdout reader thread");
}

/// Sends `signal` (a name such as `TERM` or `KILL`) to `target`, a pid or,
/// negative, a process group, with the `kill` program. Errors (such as no
/// such process) are ignored: the callers check the outcome by waiting.
fn send_signal(signal: &str, target: i64) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(target.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Waits at most `timeout` for `child` to exit, polling `try_wait` with a
/// short, growing interval. Polling (rather than a thread blocked in
/// `wait`) keeps the `Child` with its owner, so it can still be signalled
/// with `Child::kill` and never by a pid that was already reaped.
fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    let mut interval = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(e) => panic!("wait for pid {}: {e}", child.id()),
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        thread::sleep(interval.min(deadline - now));
        interval = (interval * 2).min(Duration::from_millis(20));
    }
}

/// SIGKILLs `child`'s process group (the child leads its own, see
/// [`CommandExt::process_group`]), so that anything it forked dies too,
/// then the child itself, and reaps it.
///
/// If the child has already exited, its group is still signalled: it may
/// outlive its leader, and while it has members its id cannot be reused.
fn kill_and_reap(child: &mut Child) -> ExitStatus {
    send_signal("KILL", -i64::from(child.id()));
    if let Ok(Some(status)) = child.try_wait() {
        return status;
    }
    let _ = child.kill();
    child
        .wait()
        .unwrap_or_else(|e| panic!("wait for pid {}: {e}", child.id()))
}

// ---------------------------------------------------------------------------
// RedisServer
// ---------------------------------------------------------------------------

/// A private `redis-server` on a free loopback port with its own temporary
/// directory, killed and removed on drop.
#[derive(Debug)]
pub struct RedisServer {
    dir: TempDir,
    port: u16,
    aof: bool,
    child: Option<Child>,
    pid: u32,
    log: Arc<Mutex<VecDeque<String>>>,
}

/// Why a launch failed.
enum LaunchError {
    /// The port was taken between choosing and binding it.
    PortInUse(String),
    /// Anything else, with a description and the log.
    Other(String),
}

impl RedisServer {
    /// Starts a server without persistence (`--save "" --appendonly no`).
    pub fn start() -> RedisServer {
        RedisServer::start_inner(false)
    }

    /// Starts a server with an append-only file fsynced on every write
    /// (`--appendonly yes --appendfsync always`, `--save ""`), so that every
    /// acknowledged write survives [`kill`](Self::kill) and
    /// [`restart`](Self::restart).
    pub fn start_with_aof() -> RedisServer {
        RedisServer::start_inner(true)
    }

    fn start_inner(aof: bool) -> RedisServer {
        RedisServer::start_trying_ports(aof, free_port)
    }

    /// Starts a server (with an AOF if `aof`) on the first port from
    /// `next_port` it can bind, asking for at most five. [`start`](Self::start)
    /// and [`start_with_aof`](Self::start_with_aof) ask for free ports; this
    /// is for testing the retry when a port is taken in the meantime.
    pub fn start_trying_ports(aof: bool, mut next_port: impl FnMut() -> u16) -> RedisServer {
        let dir = tempfile::Builder::new()
            .prefix("ventus-redis-")
            .tempdir()
            .expect("create a temporary directory for redis-server");
        let log = Arc::new(Mutex::new(VecDeque::with_capacity(LOG_LINES)));
        let mut failures = Vec::new();
        for _ in 0..PORT_TRIES {
            let port = next_port();
            match launch(dir.path(), port, aof, &log) {
                Ok(child) => {
                    let pid = child.id();
                    return RedisServer {
                        dir,
                        port,
                        aof,
                        child: Some(child),
                        pid,
                        log,
                    };
                }
                Err(LaunchError::PortInUse(log)) => {
                    failures.push(format!("port {port} was taken:\n{log}"));
                }
                Err(LaunchError::Other(message)) => panic!("{message}"),
            }
        }
        panic!(
            "redis-server found no free port in {PORT_TRIES} tries:\n{}",
            failures.join("\n")
        );
    }

    /// The server's url, `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A client for [`url`](Self::url).
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("a redis client for the server's url")
    }

    /// The port the server listens on; the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The pid of the current (or, once stopped, the last) server process.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The server's working directory (`--dir`), where the AOF lives.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the server was started with an append-only file.
    pub fn has_aof(&self) -> bool {
        self.aof
    }

    /// The last lines the server printed, across restarts, for error
    /// messages.
    pub fn log_tail(&self) -> String {
        let log = lock(&self.log);
        let mut tail = String::new();
        for line in log.iter() {
            tail.push_str(line);
            tail.push('\n');
        }
        tail
    }

    /// Whether the server process is still alive.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => match child.try_wait() {
                Ok(None) => true,
                Ok(Some(_)) => {
                    self.child = None;
                    false
                }
                Err(e) => panic!("wait for redis-server pid {}: {e}", self.pid),
            },
            None => false,
        }
    }

    /// Shuts the server down with SIGTERM and waits for it to exit; if it
    /// has not within [`STOP_TIMEOUT`], kills it. Does nothing if it is not
    /// running.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(None) = child.try_wait() {
            send_signal("TERM", i64::from(child.id()));
            if wait_timeout(&mut child, STOP_TIMEOUT).is_none() {
                kill_and_reap(&mut child);
                panic!(
                    "redis-server pid {} ignored SIGTERM for {STOP_TIMEOUT:?} and was killed; log:\n{}",
                    self.pid,
                    self.log_tail()
                );
            }
        }
    }

    /// Kills the server with SIGKILL (and anything it forked) and waits for
    /// it to exit. Does nothing if it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }

    /// Starts the server again on the same port and directory with the same
    /// options, and waits until it accepts connections (with an AOF, after
    /// the AOF is loaded). A running server is [`stop`](Self::stop)ped
    /// first.
    pub fn restart(&mut self) {
        self.stop();
        match launch(self.dir.path(), self.port, self.aof, &self.log) {
            Ok(child) => {
                self.pid = child.id();
                self.child = Some(child);
            }
            Err(LaunchError::PortInUse(log)) => panic!(
                "redis-server could not restart: port {} is taken; log:\n{log}",
                self.port
            ),
            Err(LaunchError::Other(message)) => panic!("{message}"),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        // `dir` (a TempDir) is removed after this, as the field drops.
    }
}

/// A port that was free a moment ago: bound on `127.0.0.1:0` and released.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("local address of a bound listener")
        .port()
}

/// Spawns `redis-server` and waits for readiness. On failure the process is
/// gone before this returns.
fn launch(
    dir: &Path,
    port: u16,
    aof: bool,
    log: &Arc<Mutex<VecDeque<String>>>,
) -> Result<Child, LaunchError> {
    let mut command = Command::new("redis-server");
    command
        .arg("--port")
        .arg(port.to_string())
        .args(["--bind", "127.0.0.1"])
        .args(["--protected-mode", "no"])
        .args(["--daemonize", "no"])
        .args(["--logfile", ""])
        .args(["--save", ""])
        .arg("--dir")
        .arg(dir);
    if aof {
        command.args(["--appendonly", "yes", "--appendfsync", "always"]);
    } else {
        command.args(["--appendonly", "no"]);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "redis-server not found: install the Debian package redis-server (bash .ci/run does this)"
        ),
        Err(e) => panic!("spawn redis-server: {e}"),
    };
    let pid = child.id();
    let stdout = child.stdout.take().expect("piped stdout");
    {
        let mut log = lock(log);
        push_bounded(
            &mut log,
            format!("=== redis-server pid {pid} on port {port} ==="),
        );
    }
    let (tx, rx) = mpsc::channel();
    let ring = Arc::clone(log);
    spawn_line_reader(format!("redis-{port}-log"), stdout, tx, move |line| {
        push_bounded(&mut lock(&ring), line.to_owned());
    });

    let tail = |log: &Arc<Mutex<VecDeque<String>>>| {
        let log = lock(log);
        log.iter().map(|l| format!("{l}\n")).collect::<String>()
    };
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut port_in_use = false;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(remaining) {
            Ok(line) => {
                if line.contains(READY_LINE) {
                    // The reader keeps draining stdout into the ring, so the
                    // pipe never fills; it ends when the server's stdout
                    // closes.
                    return Ok(child);
                }
                if line.contains("Address already in use") {
                    port_in_use = true;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                kill_and_reap(&mut child);
                return Err(LaunchError::Other(format!(
                    "redis-server pid {pid} on port {port} was not ready within {READY_TIMEOUT:?}; log:\n{}",
                    tail(log)
                )));
            }
            Err(RecvTimeoutError::Disconnected) => {
                // Stdout closed: the server exited (or is about to).
                let status = match wait_timeout(&mut child, STOP_TIMEOUT) {
                    Some(status) => status,
                    None => kill_and_reap(&mut child),
                };
                let log = tail(log);
                return Err(if port_in_use {
                    LaunchError::PortInUse(log)
                } else {
                    LaunchError::Other(format!(
                        "redis-server pid {pid} on port {port} exited before it was ready ({status}); log:\n{log}"
                    ))
                });
            }
        }
    }
}

fn push_bounded(log: &mut VecDeque<String>, line: String) {
    if log.len() == LOG_LINES {
        log.pop_front();
    }
    log.push_back(line);
}

// ---------------------------------------------------------------------------
// ChildProcess
// ---------------------------------------------------------------------------

/// A child process (e.g. a worker binary) whose stdout is read line by line
/// by a background thread, and which is killed on drop.
///
/// The child leads its own process group; [`kill`](Self::kill) and drop
/// SIGKILL the whole group, so that whatever it started dies with it.
/// Its stderr is inherited, so it shows in the test's output.
#[derive(Debug)]
pub struct ChildProcess {
    program: String,
    pid: u32,
    child: Mutex<Child>,
    lines_rx: Mutex<Receiver<String>>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ChildProcess {
    /// Runs `program` with `args` and, added to the inherited environment,
    /// `envs`; stdout is piped and read, stdin is null.
    pub fn spawn(program: &Path, args: &[&str], envs: &[(&str, String)]) -> ChildProcess {
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
        let pid = child.id();
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let seen = Arc::clone(&lines);
        spawn_line_reader(format!("child-{pid}-stdout"), stdout, tx, move |line| {
            lock(&seen).push(line.to_owned());
        });
        ChildProcess {
            program: program.display().to_string(),
            pid,
            child: Mutex::new(child),
            lines_rx: Mutex::new(rx),
            lines,
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Every stdout line read so far.
    pub fn lines(&self) -> Vec<String> {
        lock(&self.lines).clone()
    }

    /// Every stdout line read so far, joined with line breaks.
    pub fn output(&self) -> String {
        lock(&self.lines).iter().map(|l| format!("{l}\n")).collect()
    }

    /// Waits at most `timeout` for a stdout line containing `needle` and
    /// returns it. Each line is looked at by one call only: a second call
    /// searches the lines after the one the first call returned.
    ///
    /// Panics, with the output so far, on timeout or if stdout closes first.
    pub fn wait_for_line(&self, needle: &str, timeout: Duration) -> String {
        let rx = lock(&self.lines_rx);
        let deadline = Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(remaining) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{} (pid {}) printed no line containing {needle:?} within {timeout:?}; stdout:\n{}",
                    self.program,
                    self.pid,
                    self.output()
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.wait(Duration::from_secs(5));
                    let status = match status {
                        Some(status) => status.to_string(),
                        None => "still running".to_owned(),
                    };
                    panic!(
                        "{} (pid {}) exited ({status}) before printing a line containing {needle:?}; stdout:\n{}",
                        self.program,
                        self.pid,
                        self.output()
                    );
                }
            }
        }
    }

    /// Waits at most `timeout` for the child's stdout to close, which is
    /// when the child and everything it started that shares its stdout are
    /// gone; `false` on timeout. Lines not yet looked at by
    /// [`wait_for_line`](Self::wait_for_line) are skipped (they stay in
    /// [`lines`](Self::lines)).
    pub fn wait_for_stdout_close(&self, timeout: Duration) -> bool {
        let rx = lock(&self.lines_rx);
        let deadline = Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(remaining) {
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => return false,
                Err(RecvTimeoutError::Disconnected) => return true,
            }
        }
    }

    /// Sends SIGTERM to the child (not its group), if it has not exited.
    pub fn terminate(&self) {
        let mut child = lock(&self.child);
        // Holding the lock, nobody reaps the child, so the pid is ours.
        if let Ok(None) = child.try_wait() {
            send_signal("TERM", i64::from(self.pid));
        }
    }

    /// SIGKILLs the child's process group and the child, and waits for it.
    pub fn kill(&self) -> ExitStatus {
        kill_and_reap(&mut lock(&self.child))
    }

    /// Waits at most `timeout` for the child to exit.
    pub fn wait(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let mut interval = Duration::from_millis(1);
        loop {
            // Poll without holding the lock across the pause, so that
            // `terminate` and `kill` from other threads are not held up.
            if let Some(status) = wait_timeout(&mut lock(&self.child), Duration::ZERO) {
                return Some(status);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            thread::sleep(interval.min(deadline - now));
            interval = (interval * 2).min(Duration::from_millis(20));
        }
    }

    /// Whether the child is still running.
    pub fn is_running(&self) -> bool {
        matches!(lock(&self.child).try_wait(), Ok(None))
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        kill_and_reap(&mut lock(&self.child));
    }
}
