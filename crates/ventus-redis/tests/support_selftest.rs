//! Tests of the test support: private Redis servers, child processes and the
//! journal.

mod support;

use std::collections::HashSet;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use support::{append_line, ChildProcess, Journal, JournalLine, RedisServer};

const WAIT: Duration = Duration::from_secs(10);

async fn connect(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    server
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "connect to {}: {e}; log:\n{}",
                server.url(),
                server.log_tail()
            )
        })
}

async fn set(server: &RedisServer, key: &str, value: &str) {
    let mut con = connect(server).await;
    let () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query_async(&mut con)
        .await
        .expect("SET");
}

async fn get(server: &RedisServer, key: &str) -> Option<String> {
    let mut con = connect(server).await;
    redis::cmd("GET")
        .arg(key)
        .query_async(&mut con)
        .await
        .expect("GET")
}

/// Whether a process with this pid exists (`kill -0` succeeds).
fn process_exists(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .expect("run kill -0")
        .success()
}

#[tokio::test]
async fn server_answers_ping_and_keeps_a_key() {
    let mut server = RedisServer::start();
    assert!(server.is_running());
    assert_eq!(
        server.url(),
        format!("redis://127.0.0.1:{}/", server.port())
    );
    assert_ne!(server.port(), 6379);
    let mut con = connect(&server).await;
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");
    set(&server, "k", "v").await;
    assert_eq!(get(&server, "k").await.as_deref(), Some("v"));
    assert!(server.log_tail().contains("Ready to accept connections"));
    server.stop();
    assert!(!server.is_running());
}

#[tokio::test]
async fn aof_keeps_a_key_across_a_kill() {
    let mut server = RedisServer::start_with_aof();
    let port = server.port();
    let first_pid = server.pid();
    set(&server, "kept", "yes").await;
    server.kill();
    assert!(!server.is_running());
    assert!(!process_exists(first_pid));
    server.restart();
    assert!(server.is_running());
    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), first_pid);
    assert_eq!(
        get(&server, "kept").await.as_deref(),
        Some("yes"),
        "log:\n{}",
        server.log_tail()
    );
}

#[tokio::test]
async fn without_aof_a_kill_loses_the_key() {
    let mut server = RedisServer::start();
    set(&server, "lost", "yes").await;
    assert_eq!(get(&server, "lost").await.as_deref(), Some("yes"));
    server.kill();
    server.restart();
    assert_eq!(get(&server, "lost").await, None);
}

#[tokio::test]
async fn restart_of_a_running_server_stops_it_first() {
    let mut server = RedisServer::start_with_aof();
    set(&server, "k", "v").await;
    let first_pid = server.pid();
    server.restart();
    assert!(!process_exists(first_pid));
    assert_eq!(get(&server, "k").await.as_deref(), Some("v"));
}

#[tokio::test]
async fn two_servers_are_separate() {
    let a = RedisServer::start();
    let b = RedisServer::start();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());
    set(&a, "which", "a").await;
    set(&b, "which", "b").await;
    assert_eq!(get(&a, "which").await.as_deref(), Some("a"));
    assert_eq!(get(&b, "which").await.as_deref(), Some("b"));
}

#[tokio::test]
async fn a_taken_port_is_retried_with_another() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let mut asked = 0;
    let server = RedisServer::start_trying_ports(false, || {
        asked += 1;
        if asked == 1 {
            taken_port
        } else {
            let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            free.local_addr().unwrap().port()
        }
    });
    assert_eq!(asked, 2);
    assert_ne!(server.port(), taken_port);
    assert!(server.log_tail().contains("Address already in use"));
    set(&server, "k", "v").await;
    drop(taken);
}

#[test]
#[should_panic(expected = "no free port in 5 tries")]
fn a_port_that_stays_taken_gives_up() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    RedisServer::start_trying_ports(false, || taken_port);
}

#[test]
fn drop_leaves_no_process_and_no_directory() {
    let server = RedisServer::start_with_aof();
    let pid = server.pid();
    let dir = server.dir().to_owned();
    assert!(process_exists(pid));
    assert!(dir.exists());
    drop(server);
    assert!(!process_exists(pid), "redis-server pid {pid} outlived drop");
    assert!(!dir.exists(), "{} outlived drop", dir.display());
}

#[test]
fn child_process_line_is_found_and_the_child_killed() {
    let child = ChildProcess::spawn(
        Path::new("sh"),
        &["-c", "echo starting; echo \"ready $GREETING\"; sleep 30"],
        &[("GREETING", "hello".to_owned())],
    );
    let pid = child.pid();
    assert_eq!(child.wait_for_line("ready", WAIT), "ready hello");
    assert_eq!(child.lines(), ["starting", "ready hello"]);
    assert!(child.is_running());
    assert_eq!(child.wait(Duration::from_millis(50)), None);
    let status = child.kill();
    assert_eq!(status.signal(), Some(9));
    assert!(!child.is_running());
    assert!(!process_exists(pid));
}

#[test]
fn child_process_terminate_then_wait() {
    let child = ChildProcess::spawn(Path::new("sleep"), &["30"], &[]);
    child.terminate();
    let status = child.wait(WAIT).expect("sleep exits on SIGTERM");
    assert_eq!(status.signal(), Some(15));
}

#[test]
fn child_process_kill_reaches_its_group() {
    // `sleep` is sh's child, in sh's process group, holding sh's stdout.
    let child = ChildProcess::spawn(
        Path::new("sh"),
        &["-c", "sleep 30 & echo \"sleeper $!\"; wait"],
        &[],
    );
    let line = child.wait_for_line("sleeper", WAIT);
    let sleeper: u32 = line["sleeper ".len()..].parse().unwrap();
    assert!(process_exists(sleeper));
    assert!(!child.wait_for_stdout_close(Duration::from_millis(50)));
    child.kill();
    // Stdout closes only once the sleeper, which shares it, is dead too.
    assert!(
        child.wait_for_stdout_close(WAIT),
        "sleep {sleeper} survived"
    );
}

#[test]
fn child_process_drop_kills_the_child() {
    let child = ChildProcess::spawn(Path::new("sh"), &["-c", "echo up; sleep 30"], &[]);
    child.wait_for_line("up", WAIT);
    let pid = child.pid();
    drop(child);
    assert!(!process_exists(pid), "sh {pid} outlived drop");
}

#[test]
#[should_panic(expected = "exited")]
fn wait_for_line_panics_when_the_child_exits_first() {
    let child = ChildProcess::spawn(Path::new("sh"), &["-c", "echo nope; exit 3"], &[]);
    child.wait_for_line("ready", WAIT);
}

#[test]
#[should_panic(expected = "within")]
fn wait_for_line_panics_on_timeout() {
    let child = ChildProcess::spawn(Path::new("sh"), &["-c", "echo nope; sleep 30"], &[]);
    child.wait_for_line("ready", Duration::from_millis(200));
}

#[test]
fn journal_from_two_threads_reads_back_whole() {
    let journal = Journal::new();
    let pid = std::process::id();
    thread::scope(|s| {
        for t in 0..2 {
            let path = journal.path();
            s.spawn(move || {
                for i in 0..1000u64 {
                    append_line(path, "start", &format!("t{t}-{i}"), "h", i, pid);
                }
            });
        }
    });
    let lines = journal.read();
    assert_eq!(lines.len(), 2000);
    assert_eq!(journal.ids("start").len(), 2000);
    assert!(journal.ids("done").is_empty());
    assert_eq!(journal.count("start", "t1-999", "h"), 1);
    assert_eq!(journal.count("start", "t1-999", "other"), 0);
    assert!(lines.contains(&JournalLine {
        kind: "start".into(),
        id: "t0-7".into(),
        handler: "h".into(),
        attempt: 7,
        pid,
    }));
    let per_thread: HashSet<_> = lines.iter().map(|l| &l.id[..2]).collect();
    assert_eq!(per_thread.len(), 2);
}

#[test]
fn journal_ignores_a_partial_last_line() {
    use std::io::Write;
    let journal = Journal::new();
    journal.append("done", "e1", "h", 2);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(journal.path())
        .unwrap();
    file.write_all(b"start\te2\th").unwrap();
    let lines = journal.read();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].kind, "done");
    assert_eq!(lines[0].attempt, 2);
    assert_eq!(journal.count("done", "e1", "h"), 1);
}

#[test]
#[should_panic(expected = "malformed journal line 1")]
fn journal_rejects_a_malformed_line() {
    let journal = Journal::new();
    std::fs::write(journal.path(), "start\te1\th\tnot-a-number\t1\n").unwrap();
    journal.read();
}

#[test]
fn journal_drop_removes_its_file() {
    let journal = Journal::new();
    let path = journal.path().to_owned();
    assert!(path.exists());
    drop(journal);
    assert!(!path.exists());
}
