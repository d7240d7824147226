//! The Lua scripts that make each room operation one atomic step.
//!
//! Every script gets the same six keys (see [`RoomKeys`](crate::room_keys::RoomKeys)):
//! `KEYS[1]` meta hash (`v` version, `mr`/`pr` member and public rights, `ttl`
//! idle TTL in ms, `b` state bytes, `ps` presence sequence, `mt` how long an
//! unused member slot is kept, in ms), `KEYS[2]` state hash, `KEYS[3]` member
//! set, `KEYS[4]` diff log (a list), `KEYS[5]` attach counts (a hash: node id
//! to count), `KEYS[6]` unused member slots (a sorted set: member to the Redis
//! time in ms it joined; a member leaves it on its first attach or write).
//! Scripts that need an existing room answer `{'absent', now}` (`now` the Redis
//! clock in microseconds) when the meta hash is gone; the caller then starts the
//! room and retries, or, for a read, answers from the spec at version `now`
//! without storing anything, so the app's spec never runs inside Redis.
//!
//! Replies are arrays of strings only (numbers are formatted with `%d`: Lua's
//! default number formatting would round the microsecond versions). JSON values
//! are never empty, so `''` means "absent".
//!
//! A diff is encoded once, as a JSON array of strings `[version, kind, ...]`
//! (`kind` = inserted/updated key value, deleted key, reset k1 v1 k2 v2 ...):
//! the same bytes go to the log, to pub/sub (prefixed `d`) and back to the
//! writer, so every node decodes the same thing.

use redis::Script;
use std::sync::LazyLock;

/// How long an attached room's keys live without a heartbeat (ms). Nodes
/// refresh it for the rooms they have clients in, so a crashed node's rooms
/// still expire eventually.
pub(crate) const LEASE_MS: u64 = 30_000;

/// Helpers every script starts with. `refresh` restarts the idle countdown: the
/// room's TTL when no one is attached anywhere, else the lease.
const PRELUDE: &str = r#"
local M, S, MEM, LOG, ATT, UNUSED = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local function attached()
  local n = 0
  local vals = redis.call('HVALS', ATT)
  for i = 1, #vals do n = n + tonumber(vals[i]) end
  return n
end
local function refresh()
  local ttl = tonumber(redis.call('HGET', M, 'ttl') or '0')
  if attached() > 0 then ttl = math.max(ttl, LEASE) end
  if ttl < 1 then ttl = 1 end
  for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ttl) end
end
local function fmt(n) return string.format('%d', n) end
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function now_ms() return math.floor(now_us() / 1000) end
-- Whether member `who` holds its slot: used, or joined less than `mt` ago.
local function holds_slot(who)
  if redis.call('SISMEMBER', MEM, who) == 0 then return false end
  local joined = redis.call('ZSCORE', UNUSED, who)
  if not joined then return true end
  local mt = tonumber(redis.call('HGET', M, 'mt') or '0')
  return mt <= 0 or now_ms() - tonumber(joined) < mt
end
"#;

/// Prelude for scripts acting for a caller: ARGV[1] caller, ARGV[2] the right's
/// bit (0 = none needed). Denials answer `{'denied', mr, pr, member}` so the
/// caller builds the typed error from the ACL.
const CHECKED: &str = r#"
if redis.call('EXISTS', M) == 0 then return {'absent', fmt(now_us())} end
local member = holds_slot(ARGV[1])
-- The caller used its member slot (attached or wrote): it no longer expires.
local function slot_used()
  if member then redis.call('ZREM', UNUSED, ARGV[1]) end
end
local mr, pr = redis.call('HGET', M, 'mr'), redis.call('HGET', M, 'pr')
local rights = tonumber(member and mr or pr)
local bit = tonumber(ARGV[2])
if bit > 0 and math.floor(rights / bit) % 2 ~= 1 then
  return {'denied', mr, pr, member and '1' or '0'}
end
"#;

/// For writes: ARGV[3] channel, ARGV[4] the log's bounds, `{count}:{bytes}`.
/// Bumps the version, logs and publishes the diff, restarts the countdown;
/// answers `{'ok', diff}`.
///
/// The log keeps the newest diffs within both bounds; the meta field `lb` counts
/// its bytes (recounted from the new diff alone when the log was empty, so a
/// log that expired on its own cannot leave a stale count). A diff over the byte
/// bound by itself empties the log instead: the log must stay contiguous up to
/// the current version, or an attach would replay around the missing diff.
const PUBLISH: &str = r#"
local function log_diff(msg)
  local keep, keep_bytes = string.match(ARGV[4], '^(%d+):(%d+)$')
  keep, keep_bytes = tonumber(keep), tonumber(keep_bytes)
  if keep == 0 or #msg > keep_bytes then
    redis.call('DEL', LOG)
    redis.call('HDEL', M, 'lb')
    return
  end
  local n = redis.call('RPUSH', LOG, msg)
  local bytes = #msg
  if n > 1 then bytes = bytes + tonumber(redis.call('HGET', M, 'lb') or '0') end
  while n > keep or bytes > keep_bytes do
    local old = redis.call('LPOP', LOG)
    if not old then break end
    n, bytes = n - 1, bytes - #old
  end
  redis.call('HSET', M, 'lb', fmt(math.max(bytes, 0)))
end
local function publish(change)
  local v = tonumber(redis.call('HGET', M, 'v')) + 1
  local vs = fmt(v)
  redis.call('HSET', M, 'v', vs)
  table.insert(change, 1, vs)
  local msg = cjson.encode(change)
  log_diff(msg)
  redis.call(PUB, ARGV[3], 'd' .. msg)
  slot_used()
  refresh()
  return {'ok', msg}
end
"#;

/// Body of a put: ARGV[5] max value bytes, [6] max keys, [7] max bytes,
/// [8] key, [9] value.
const PUT_BODY: &str = r#"
local f, val = ARGV[8], ARGV[9]
if #val > tonumber(ARGV[5]) then return {'value', fmt(#val)} end
local old = redis.call('HSTRLEN', S, f)
if old == 0 and redis.call('HLEN', S) >= tonumber(ARGV[6]) then return {'keys'} end
local size = tonumber(redis.call('HGET', M, 'b') or '0') - (old > 0 and (#f + old) or 0) + #f + #val
if size > tonumber(ARGV[7]) then return {'bytes', fmt(size)} end
redis.call('HSET', S, f, val)
redis.call('HSET', M, 'b', fmt(size))
return publish({old > 0 and 'updated' or 'inserted', f, val})
"#;

fn script(parts: &[&str]) -> Script {
    Script::new(&body(parts))
}

fn body(parts: &[&str]) -> String {
    let mut body = format!("local LEASE = {LEASE_MS}\n");
    for part in parts {
        body.push_str(part);
    }
    body
}

/// A script that publishes on the room's channel, in two forms: `PUBLISH` for
/// one server, `SPUBLISH` (sharded pub/sub) for a Redis Cluster, where a plain
/// `PUBLISH` would be copied to every node over the cluster bus while
/// `SPUBLISH` stays on the shard owning the room's slot (the channel carries
/// the room's hash tag).
#[derive(Debug)]
pub(crate) struct Publishing {
    plain: Script,
    sharded: Script,
}

impl Publishing {
    fn new(parts: &[&str]) -> Self {
        let body = body(parts);
        Publishing {
            plain: Script::new(&format!("local PUB = 'PUBLISH'\n{body}")),
            sharded: Script::new(&format!("local PUB = 'SPUBLISH'\n{body}")),
        }
    }

    /// The form for `redis`.
    pub(crate) fn on(&self, redis: &crate::connection::Redis) -> &Script {
        if redis.is_cluster() {
            &self.sharded
        } else {
            &self.plain
        }
    }
}

/// Starts the room unless it exists. ARGV: member rights, public rights, ttl ms,
/// bytes, unused member slot ttl ms, then key/value pairs. The first version is
/// Redis's clock in microseconds, so a restarted room's versions start above
/// the old room's (and at or above any version a lazy read reported).
pub(crate) static START: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        PRELUDE,
        r#"
if redis.call('EXISTS', M) == 1 then return {'exists'} end
redis.call('DEL', S, MEM, LOG, ATT, UNUSED)
local v = now_us()
redis.call('HSET', M, 'v', fmt(v), 'mr', ARGV[1], 'pr', ARGV[2], 'ttl', ARGV[3], 'b', ARGV[4], 'ps', '0', 'mt', ARGV[5])
for i = 6, #ARGV, 2 do redis.call('HSET', S, ARGV[i], ARGV[i + 1]) end
refresh()
return {'ok'}
"#,
    ])
});

/// The caller's rights. Answers `{'ok', mr, pr, member}`.
pub(crate) static ACCESS: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        PRELUDE,
        CHECKED,
        "refresh()\nreturn {'ok', mr, pr, member and '1' or '0'}\n",
    ])
});

/// One value (needs the right in ARGV[2]). ARGV[3] key. Answers `{'ok', value}`.
pub(crate) static GET: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        PRELUDE,
        CHECKED,
        "refresh()\nreturn {'ok', redis.call('HGET', S, ARGV[3]) or ''}\n",
    ])
});

/// The whole state. Answers `{'ok', version, k1, v1, ...}`.
pub(crate) static SNAPSHOT: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        PRELUDE,
        CHECKED,
        r#"
refresh()
local out = {'ok', redis.call('HGET', M, 'v')}
local all = redis.call('HGETALL', S)
for i = 1, #all do out[#out + 1] = all[i] end
return out
"#,
    ])
});

/// Sets a key. See [`PUT_BODY`] for ARGV.
pub(crate) static PUT: LazyLock<Publishing> =
    LazyLock::new(|| Publishing::new(&[PRELUDE, CHECKED, PUBLISH, PUT_BODY]));

/// A put that applies only if the key still holds ARGV[10] ('' = absent), else
/// answers `{'conflict'}`.
pub(crate) static COMPARE_AND_SET: LazyLock<Publishing> = LazyLock::new(|| {
    Publishing::new(&[
        PRELUDE,
        CHECKED,
        PUBLISH,
        "if (redis.call('HGET', S, ARGV[8]) or '') ~= ARGV[10] then return {'conflict'} end\n",
        PUT_BODY,
    ])
});

/// Removes ARGV[5]; answers `{'none'}` when it was absent.
pub(crate) static DELETE: LazyLock<Publishing> = LazyLock::new(|| {
    Publishing::new(&[
        PRELUDE,
        CHECKED,
        PUBLISH,
        r#"
local f = ARGV[5]
local old = redis.call('HSTRLEN', S, f)
if old == 0 then
  refresh()
  return {'none'}
end
redis.call('HDEL', S, f)
redis.call('HINCRBY', M, 'b', -(#f + old))
return publish({'deleted', f})
"#,
    ])
});

/// Replaces state, ACL and TTL. ARGV[5] member rights, [6] public rights,
/// [7] ttl ms, [8] bytes, then key/value pairs.
pub(crate) static RESET: LazyLock<Publishing> = LazyLock::new(|| {
    Publishing::new(&[
        PRELUDE,
        CHECKED,
        PUBLISH,
        r#"
redis.call('DEL', S)
local change = {'reset'}
for i = 9, #ARGV, 2 do
  redis.call('HSET', S, ARGV[i], ARGV[i + 1])
  change[#change + 1] = ARGV[i]
  change[#change + 1] = ARGV[i + 1]
end
redis.call('HSET', M, 'mr', ARGV[5], 'pr', ARGV[6], 'ttl', ARGV[7], 'b', ARGV[8])
return publish(change)
"#,
    ])
});

/// Adds (ARGV[3] = '1') or removes ARGV[1] as a member; ARGV[4] max members.
/// A full room first frees the slots unused for longer than `mt`. A new slot is
/// unused until its member attaches or writes. Answers `{'ok', '1'|'0'}`
/// (changed or not) or `{'members'}`.
pub(crate) static SET_MEMBER: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        PRELUDE,
        CHECKED,
        r#"
local changed
local now = now_ms()
if ARGV[3] == '1' then
  if member then
    changed = 0
  else
    local mt = tonumber(redis.call('HGET', M, 'mt') or '0')
    local rejoin = redis.call('SISMEMBER', MEM, ARGV[1]) == 1
    if not rejoin and mt > 0 and redis.call('SCARD', MEM) >= tonumber(ARGV[4]) then
      local stale = redis.call('ZRANGEBYSCORE', UNUSED, '-inf', '(' .. fmt(now - mt + 1))
      for i = 1, #stale do redis.call('SREM', MEM, stale[i]) end
      redis.call('ZREMRANGEBYSCORE', UNUSED, '-inf', '(' .. fmt(now - mt + 1))
    end
    if not rejoin and redis.call('SCARD', MEM) >= tonumber(ARGV[4]) then
      return {'members'}
    end
    redis.call('SADD', MEM, ARGV[1])
    redis.call('ZADD', UNUSED, now, ARGV[1])
    changed = 1
  end
else
  redis.call('SREM', MEM, ARGV[1])
  redis.call('ZREM', UNUSED, ARGV[1])
  changed = member and 1 or 0
end
refresh()
return {'ok', fmt(changed)}
"#,
    ])
});

/// Publishes a presence count with its sequence number (`p{seq}:{count}`), so
/// nodes can drop counts that arrive late.
const PRESENCE: &str = r#"
local function presence()
  local n = attached()
  local seq = redis.call('HINCRBY', M, 'ps', 1)
  redis.call(PUB, ARGV[3], 'p' .. fmt(seq) .. ':' .. fmt(n))
  return seq, n
end
"#;

/// Attaches a client of node ARGV[4] (needs read, ARGV[2]); ARGV[3] channel;
/// ARGV[5] the version to resume from ('' = none). Answers `{'ok', seq, count,
/// 'snap', version, k1, v1, ...}` or `{'ok', seq, count, 'replay', diff...}`.
pub(crate) static ATTACH: LazyLock<Publishing> = LazyLock::new(|| {
    Publishing::new(&[
        PRELUDE,
        CHECKED,
        PRESENCE,
        r#"
redis.call('HINCRBY', ATT, ARGV[4], 1)
slot_used()
local seq, n = presence()
refresh()
local v = tonumber(redis.call('HGET', M, 'v'))
local out = {'ok', fmt(seq), fmt(n)}
if ARGV[5] ~= '' then
  local r = tonumber(ARGV[5])
  if r == v then
    out[4] = 'replay'
    return out
  end
  if r < v then
    local log = redis.call('LRANGE', LOG, 0, -1)
    if #log > 0 and tonumber(cjson.decode(log[1])[1]) <= r + 1 then
      out[4] = 'replay'
      for i = 1, #log do
        if tonumber(cjson.decode(log[i])[1]) > r then out[#out + 1] = log[i] end
      end
      return out
    end
  end
end
out[4] = 'snap'
out[5] = fmt(v)
local all = redis.call('HGETALL', S)
for i = 1, #all do out[#out + 1] = all[i] end
return out
"#,
    ])
});

/// Detaches one client of node ARGV[4]; ARGV[3] channel. When no one is
/// attached anywhere, the room's idle countdown starts.
///
/// Its first write is an `HDEL`, which a Redis out of memory (`noeviction`)
/// allows, and a script that has written once runs to its end: a detach is
/// never refused for memory, or the room's attach count would stay too high.
pub(crate) static DETACH: LazyLock<Publishing> = LazyLock::new(|| {
    Publishing::new(&[
        PRELUDE,
        PRESENCE,
        r#"
if redis.call('EXISTS', M) == 0 then return {'absent'} end
local left = tonumber(redis.call('HGET', ATT, ARGV[4]) or '0') - 1
redis.call('HDEL', ATT, ARGV[4])
if left > 0 then redis.call('HSET', ATT, ARGV[4], fmt(left)) end
presence()
refresh()
return {'ok'}
"#,
    ])
});

/// Refreshes an attached room's lease (a node's heartbeat).
pub(crate) static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        PRELUDE,
        "if redis.call('EXISTS', M) == 1 then refresh() end\nreturn {'ok'}\n",
    ])
});

/// Answers `{'1'|'0', attached count}` without starting or touching the room.
pub(crate) static PEEK: LazyLock<Script> = LazyLock::new(|| {
    script(&[
        PRELUDE,
        "if redis.call('EXISTS', M) == 0 then return {'0', '0'} end\nreturn {'1', fmt(attached())}\n",
    ])
});
