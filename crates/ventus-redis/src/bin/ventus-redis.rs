//! `ventus-redis`: look after a queue's dead letters from the command line.
//!
//! ```text
//! ventus-redis dlq list    [--limit N]
//! ventus-redis dlq show    ID
//! ventus-redis dlq replay  ID
//! ventus-redis dlq discard ID
//! ventus-redis stats
//! options: --url URL (default $REDIS_URL, else redis://127.0.0.1:6379/)
//!          --queue NAME (default `default`)  --partitions N (default 1)
//! ```

use std::io::Write;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use ventus_redis::{DeadLetter, DeadLetters};

const USAGE: &str = "usage: ventus-redis dlq list [--limit N] | dlq show ID | dlq replay ID | dlq discard ID | stats
options: --url URL (default $REDIS_URL, else redis://127.0.0.1:6379/)
         --queue NAME (default `default`)   --partitions N (default 1)";

struct Args {
    url: String,
    queue: String,
    partitions: u16,
    limit: usize,
    words: Vec<String>,
}

fn parse(argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        url: std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into()),
        queue: "default".into(),
        partitions: 1,
        limit: 100,
        words: Vec::new(),
    };
    let mut it = argv;
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--url" => args.url = value("--url")?,
            "--queue" => args.queue = value("--queue")?,
            "--partitions" => {
                args.partitions = value("--partitions")?
                    .parse()
                    .map_err(|_| "--partitions takes a number from 1 to 65535".to_owned())?;
            }
            "--limit" => {
                args.limit = value("--limit")?
                    .parse()
                    .map_err(|_| "--limit takes a number".to_owned())?;
            }
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ => args.words.push(a),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(problem) => {
            if !problem.is_empty() {
                eprintln!("ventus-redis: {problem}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ventus-redis: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ventus-redis: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let words: Vec<&str> = args.words.iter().map(String::as_str).collect();
    let dlq = || DeadLetters::connect(&args.url, &args.queue, args.partitions);
    let mut out = std::io::stdout().lock();
    match words.as_slice() {
        ["dlq", "list"] => {
            let letters = dlq().await?.list(args.limit).await?;
            table(&mut out, &letters)?;
        }
        ["dlq", "show", id] => show(&mut out, &dlq().await?.show(id).await?)?,
        ["dlq", "replay", id] => {
            let entry = dlq().await?.replay(id).await?;
            writeln!(out, "replayed {id} as stream entry {entry}")?;
        }
        ["dlq", "discard", id] => {
            dlq().await?.discard(id).await?;
            writeln!(out, "discarded {id}")?;
        }
        ["stats"] => {
            let s = dlq().await?.queue_stats().await?;
            writeln!(out, "queue {}", args.queue)?;
            writeln!(out, "pending       {}", s.pending)?;
            writeln!(out, "lag           {}", s.lag)?;
            writeln!(out, "lost-to-trim  {}", s.lost_to_trim)?;
            writeln!(out, "dead letters  {}", s.dead_letters)?;
        }
        _ => {
            eprintln!("{USAGE}");
            return Ok(ExitCode::from(2));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn age(at_ms: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let s = now.saturating_sub(at_ms) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn clip(s: &str, n: usize) -> String {
    let one_line = s.replace(['\n', '\r', '\t'], " ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        let cut: String = one_line.chars().take(n - 1).collect();
        format!("{cut}…")
    }
}

fn table(out: &mut impl Write, letters: &[DeadLetter]) -> std::io::Result<()> {
    if letters.is_empty() {
        return writeln!(out, "no dead letters");
    }
    let rows: Vec<[String; 7]> = letters
        .iter()
        .map(|l| {
            let (event, emission) = match &l.envelope {
                Ok(e) => (e.event().to_owned(), e.id().to_string()),
                Err(_) => ("?".into(), "(unreadable envelope)".into()),
            };
            [
                l.id.clone(),
                l.reason.clone(),
                l.attempts.to_string(),
                clip(&event, 24),
                emission,
                age(l.at_ms),
                clip(&l.error, 80),
            ]
        })
        .collect();
    let head = [
        "ID", "REASON", "ATTEMPTS", "EVENT", "EMISSION", "AGE", "ERROR",
    ];
    let mut widths = head.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s
    };
    writeln!(out, "{}", line(&head))?;
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        writeln!(out, "{}", line(&cells))?;
    }
    writeln!(out, "{} dead letter(s)", rows.len())
}

fn show(out: &mut impl Write, l: &DeadLetter) -> std::io::Result<()> {
    writeln!(out, "id           {}", l.id)?;
    writeln!(out, "partition    {}", l.partition)?;
    writeln!(out, "stream entry {}", l.entry)?;
    writeln!(out, "reason       {}", l.reason)?;
    writeln!(out, "attempts     {}", l.attempts)?;
    writeln!(out, "moved        {} ago", age(l.at_ms))?;
    writeln!(out, "last error   {}", l.error)?;
    match &l.envelope {
        Ok(e) => {
            writeln!(out, "emission     {}", e.id())?;
            writeln!(out, "event        {}", e.event())?;
            writeln!(out, "emitted at   {} ms", e.ts_ms())?;
            writeln!(out, "content type {}", e.content_type())?;
            writeln!(out, "key id       {}", e.kid().unwrap_or("(unsigned)"))?;
            if let Some(tp) = e.traceparent() {
                writeln!(out, "traceparent  {tp}")?;
            }
            match l.payload_text() {
                Some(text) => writeln!(out, "payload      {text}"),
                None => writeln!(out, "payload      {} bytes (not UTF-8)", e.payload().len()),
            }
        }
        Err(r) => writeln!(out, "envelope     unreadable: {r}"),
    }
}
