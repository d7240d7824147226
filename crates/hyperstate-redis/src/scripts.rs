//! The Lua scripts that make each page operation one atomic round trip.
//!
//! A page hash holds the state keys plus one bookkeeping field, `"\0b"`: the sum
//! of key and value lengths, kept for `Limits::max_bytes`. State keys cannot
//! contain control characters, so they never collide with it. JSON values are
//! never empty, so `HSTRLEN` = 0 means "absent".

use redis::Script;
use std::sync::LazyLock;

/// Refreshes the TTL; returns the value or nil.
/// KEYS: page. ARGV: field, ttl_ms.
pub(crate) static GET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local v = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return v
"#,
    )
});

/// Shared body of PUT and CAS: checks the limits, writes, refreshes the TTL.
/// Returns {'ok', bytes} | {'keys', count} | {'bytes', size}.
const WRITE: &str = r#"
local k, f, v = KEYS[1], ARGV[1], ARGV[2]
local old = redis.call('HSTRLEN', k, f)
local meta = redis.call('HGET', k, '\0b')
local bytes = tonumber(meta or '0')
local count = redis.call('HLEN', k) - (meta and 1 or 0)
if old == 0 and count >= tonumber(ARGV[4]) then return {'keys', count} end
local size = bytes - (old > 0 and (#f + old) or 0) + #f + #v
if size > tonumber(ARGV[5]) then return {'bytes', size} end
redis.call('HSET', k, f, v, '\0b', size)
redis.call('PEXPIRE', k, ARGV[3])
return {'ok', size}
"#;

/// KEYS: page. ARGV: field, value, ttl_ms, max_keys, max_bytes.
pub(crate) static PUT: LazyLock<Script> = LazyLock::new(|| Script::new(WRITE));

/// Writes only if the field still holds `expected` ('' = absent), else
/// refreshes the TTL and returns {'conflict', current} ('' = absent), so that
/// the caller can retry without a separate read. KEYS: page. ARGV: field,
/// value, ttl_ms, max_keys, max_bytes, expected.
pub(crate) static COMPARE_AND_SET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[6] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {{'conflict', current}}
end
{WRITE}"#
    ))
});

/// Returns 1 if the field was removed. KEYS: page. ARGV: field, ttl_ms.
pub(crate) static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local k, f = KEYS[1], ARGV[1]
local old = redis.call('HSTRLEN', k, f)
if old == 0 then
  redis.call('PEXPIRE', k, ARGV[2])
  return 0
end
redis.call('HDEL', k, f)
redis.call('HINCRBY', k, '\0b', -(#f + old))
redis.call('PEXPIRE', k, ARGV[2])
return 1
"#,
    )
});
