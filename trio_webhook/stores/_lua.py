"""The two Lua scripts of the Redis rate-limit store: a read, and a compare-and-set write.

Neither script decides anything about rate limits: the rules live once, in Python
(:mod:`trio_webhook.ratelimit._state`, run through the memory store's own code). A script
only reads the states one operation needs together with their versions and Redis's clock
(``TIME``), or writes an operation's result if and only if no version moved meanwhile.

Every state is a hash with two fields: ``v``, a version that each write raises by one,
and ``s``, the state's JSON. A route's ``s`` is its bucket key and channel key joined by
a newline (the channel may be empty), so that the read script can follow it to the
bucket and channel states without a JSON parser.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CAS_SCRIPT", "READ_SCRIPT"]

# KEYS[1] the global state, KEYS[2] the route; ARGV[1] the prefix of state keys, ARGV[2..]
# further state keys to read (the bucket and channel an answer names). Returns
#   {seconds, microseconds, global v, global s, route v, route s, (name, v, s)...}
# where a missing hash reads as version "0" and state "".
_READ_BODY: Final = """
local function read(keys, argv, first)
  local t = redis.call('TIME')
  local out = {t[1], t[2]}
  local g = redis.call('HMGET', keys[1], 'v', 's')
  out[#out + 1] = g[1] or '0'
  out[#out + 1] = g[2] or ''
  local r = redis.call('HMGET', keys[2], 'v', 's')
  out[#out + 1] = r[1] or '0'
  out[#out + 1] = r[2] or ''
  local names = {}
  if r[2] and r[2] ~= '' then
    local nl = string.find(r[2], '\\n', 1, true)
    names[#names + 1] = string.sub(r[2], 1, nl - 1)
    local channel = string.sub(r[2], nl + 1)
    if channel ~= '' then names[#names + 1] = channel end
  end
  for i = first, #argv do names[#names + 1] = argv[i] end
  local seen = {}
  for _, name in ipairs(names) do
    if not seen[name] then
      seen[name] = true
      local h = redis.call('HMGET', argv[1] .. name, 'v', 's')
      out[#out + 1] = name
      out[#out + 1] = h[1] or '0'
      out[#out + 1] = h[2] or ''
    end
  end
  return out
end
"""

READ_SCRIPT: Final = _READ_BODY + "\nreturn read(KEYS, ARGV, 2)\n"

# KEYS[1] the global state, KEYS[2] the route, KEYS[3..] every other key checked or written.
# ARGV[1] the prefix of state keys, ARGV[2] the number n of entries; then n entries of four
# values each, one per KEYS[i] (i = 1..n): expected version, op ('w' write, 'd' delete:
# a tombstone that reads as missing, 'c' check only, 's' skip: neither checked nor
# written), the new state, its time to live in milliseconds; then the extra state keys of
# the read. All versions match: apply every op, return {1}. Any differs: change
# nothing and return {0, <what the read script returns>}, so a retry costs no extra trip.
CAS_SCRIPT: Final = (
    _READ_BODY
    + """
local n = tonumber(ARGV[2])
for i = 1, n do
  local base = 3 + (i - 1) * 4
  if ARGV[base + 1] ~= 's' and (redis.call('HGET', KEYS[i], 'v') or '0') ~= ARGV[base] then
    local out = read(KEYS, ARGV, 3 + n * 4)
    table.insert(out, 1, 0)
    return out
  end
end
for i = 1, n do
  local base = 3 + (i - 1) * 4
  local op = ARGV[base + 1]
  if op == 'w' then
    redis.call('HSET', KEYS[i], 'v', tonumber(ARGV[base]) + 1, 's', ARGV[base + 2])
    redis.call('PEXPIRE', KEYS[i], ARGV[base + 3])
  elseif op == 'd' then
    -- A tombstone, not DEL: the version must keep rising, or a reader that saw the key
    -- missing could overwrite whatever is created and deleted in between (ABA).
    redis.call('HSET', KEYS[i], 'v', tonumber(ARGV[base]) + 1, 's', '')
    redis.call('PEXPIRE', KEYS[i], ARGV[base + 3])
  end
end
return {1}
"""
)
