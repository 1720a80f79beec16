//! The Lua scripts: the strict emit, trims with accounting, and the moves to and from
//! the dead letters.

use redis::aio::ConnectionLike;

/// A script run with `EVALSHA`, loaded again if the server forgot it (a restart).
#[derive(Debug)]
pub(crate) struct Lua {
    src: &'static str,
    sha: String,
}

impl Lua {
    fn new(src: &'static str) -> Self {
        Self {
            src,
            sha: redis::Script::new(src).get_hash().to_owned(),
        }
    }

    /// `EVALSHA sha numkeys keys...`; the caller adds the arguments.
    pub(crate) fn cmd(&self, keys: &[&str]) -> redis::Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&self.sha).arg(keys.len());
        for key in keys {
            cmd.arg(*key);
        }
        cmd
    }

    pub(crate) async fn load<C: ConnectionLike + Send>(
        &self,
        conn: &mut C,
    ) -> redis::RedisResult<()> {
        redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(self.src)
            .query_async::<String>(conn)
            .await
            .map(drop)
    }

    /// Runs `cmd` (made by [`cmd`](Self::cmd)), loading the script first if the server
    /// does not have it.
    pub(crate) async fn run<C, T>(&self, conn: &mut C, cmd: &redis::Cmd) -> redis::RedisResult<T>
    where
        C: ConnectionLike + Send,
        T: redis::FromRedisValue,
    {
        match cmd.query_async::<T>(conn).await {
            Err(e) if is_noscript(&e) => {
                self.load(conn).await?;
                cmd.query_async(conn).await
            }
            other => other,
        }
    }
}

pub(crate) fn is_noscript(e: &redis::RedisError) -> bool {
    e.code() == Some("NOSCRIPT")
}

/// KEYS: stream. ARGV: cap, then field/value pairs. The strict emit: refused at the
/// cap (`VENTUSFULL <len>`), added otherwise, in one step.
const STRICT_EMIT: &str = r#"
local len = redis.call('XLEN', KEYS[1])
if len >= tonumber(ARGV[1]) then
  return redis.error_reply('VENTUSFULL ' .. len)
end
return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
"#;

/// KEYS: stream, lost counter. ARGV: cap. Run by an emitter whose `XADD` found the
/// stream over its cap: deletes the oldest entries down to the cap, and adds those the
/// group had not finished (never delivered, or delivered and still pending) to the lost
/// counter. Returns how many it counted as lost.
const TRIM: &str = r#"
local cap = tonumber(ARGV[1])
local len = redis.call('XLEN', KEYS[1])
if len <= cap then return 0 end
local function after(a, b)
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am > bm or (am == bm and as > bs)
end
local last = nil
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if ok then
  for _, g in ipairs(groups) do
    local t = {}
    for i = 1, #g, 2 do t[g[i]] = g[i + 1] end
    if t['name'] == 'ventus' then last = t['last-delivered-id'] end
  end
end
local lost = 0
local old = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', len - cap)
for _, e in ipairs(old) do
  local id = e[1]
  if last == nil or after(id, last) then
    lost = lost + 1
  elseif #redis.call('XPENDING', KEYS[1], 'ventus', id, id, 1) > 0 then
    lost = lost + 1
  end
  redis.call('XDEL', KEYS[1], id)
end
if lost > 0 then redis.call('INCRBY', KEYS[2], lost) end
return lost
"#;

/// KEYS: stream, dead-letter stream. ARGV: entry id, reason, attempts, last error, time,
/// then the entry's field/value pairs. Adds the dead letter and acks and deletes the
/// entry, in one step. The completion records stay (until their TTL), so a replay runs
/// only the handlers that did not finish.
const TO_DLQ: &str = r#"
local id = redis.call('XADD', KEYS[2], '*', 'entry', ARGV[1], 'reason', ARGV[2],
  'attempts', ARGV[3], 'error', ARGV[4], 'at_ms', ARGV[5], unpack(ARGV, 6))
redis.call('XACK', KEYS[1], 'ventus', ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
return id
"#;

/// KEYS: dead-letter stream, stream. ARGV: dead-letter id. Puts the envelope back on
/// the stream (a new entry, so a new delivery count; the same emission id), marked
/// `replayed` so its worker reads the completion records first, and removes
/// the dead letter, in one step. Returns the new entry id, or nil if there is no such
/// dead letter.
const REPLAY: &str = r#"
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return false end
local f = e[1][2]
local out = {}
local skip = { entry = true, reason = true, attempts = true, error = true, at_ms = true, replayed = true }
for i = 1, #f, 2 do
  if not skip[f[i]] then
    out[#out + 1] = f[i]
    out[#out + 1] = f[i + 1]
  end
end
out[#out + 1] = 'replayed'
out[#out + 1] = '1'
local id = redis.call('XADD', KEYS[2], '*', unpack(out))
redis.call('XDEL', KEYS[1], ARGV[1])
return id
"#;

pub(crate) struct Scripts {
    pub(crate) strict_emit: Lua,
    pub(crate) trim: Lua,
    pub(crate) to_dlq: Lua,
    pub(crate) replay: Lua,
}

pub(crate) fn scripts() -> &'static Scripts {
    static SCRIPTS: std::sync::OnceLock<Scripts> = std::sync::OnceLock::new();
    SCRIPTS.get_or_init(|| Scripts {
        strict_emit: Lua::new(STRICT_EMIT),
        trim: Lua::new(TRIM),
        to_dlq: Lua::new(TO_DLQ),
        replay: Lua::new(REPLAY),
    })
}
