"""The Lua scripts of the Redis outbox: each operation is one atomic script.

Shared by :class:`~trio_webhook.outbox.RedisOutbox` (coredis, on trio) and the
synchronous :func:`~trio_webhook.outbox.enqueue` (a plain socket), so a producer and a
worker write the same keys the same way.

Keys (``P`` is the prefix, ``W`` a webhook id, ``E`` an entry; no key holds a token):

- ``P:seq``: the entry counter (``INCR``); entries grow over the whole outbox.
- ``P:stream:W``: the webhook's pending messages, a stream whose ids are ``E-0`` (so an
  entry *is* its stream id); fields ``m`` (the encoded message) and ``t`` (accepted,
  Redis ``TIME``). Consumer group ``workers``; each outbox object is one consumer.
- ``P:entry:E``: a hash of the entry's state and marks: ``w`` webhook, ``s`` state
  (``p`` pending, ``d`` dead, ``r`` replayed), ``n`` requests delivered, ``f`` the
  request in flight, ``iK`` Discord's id of request K (``=id``, or ``-`` for none),
  ``th`` the forum thread, ``rp`` when replayed, ``x`` appended without the lease (its
  outcome is kept for its appender: :mod:`~trio_webhook.outbox._redis_shared_scripts`).
- ``P:dead:W``: the webhook's dead letters, a stream (fields ``e``, ``r`` the record,
  ``t``).
- ``P:lease:W``: who delivers the webhook (``owner pid host``), with an expiry.
- ``P:webhooks``: every webhook with an entry; ``P:ready``: those with pending messages
  (workers discover work here); ``P:cursors``: append cursors.

They run on one Redis (or a primary), not on Redis Cluster: a script builds keys of the
entry's webhook from what it reads.
"""

from __future__ import annotations

from typing import Final

from trio_webhook.outbox._redis_shared_scripts import OUTCOME_FN

__all__ = [
    "APPEND",
    "CLAIM",
    "CURSOR",
    "DEAD_LIST",
    "GROUP",
    "LAST",
    "MARK",
    "PENDING",
    "PUT_DEAD",
    "READY",
    "RECORD",
    "RELEASE",
    "RENEW",
    "REPLAYED",
    "SETTLE",
    "SETTLE_DEAD",
    "SUMMARY",
    "TAKE",
    "WEBHOOKS",
]

GROUP: Final = "workers"

_NOW: Final = """
local function now()
  local t = redis.call('TIME')
  return string.format('%d.%06d', t[1], t[2])
end
"""

# claim(P, w, owner, ms, steal): take or renew the lease. A lease newly taken adopts
# every entry the previous holder read and did not settle (XAUTOCLAIM with a min-idle
# time of 0: the lease running out, or its holder being gone, is the idle time that
# matters; an entry of a live holder is never claimed, as the lease is never taken
# from one). ``steal`` is a holder seen dead (same host, no such process): taken at once.
_CLAIM_FN: Final = """
local function claim(P, w, owner, ms, steal)
  local lease = P .. ':lease:' .. w
  local cur = redis.call('GET', lease)
  if cur == owner then
    redis.call('PEXPIRE', lease, ms)
    return {'held'}
  end
  if cur and cur ~= steal then
    return {'busy', cur, redis.call('PTTL', lease)}
  end
  redis.call('SET', lease, owner, 'PX', ms)
  local stream = P .. ':stream:' .. w
  local adopted = 0
  if redis.call('EXISTS', stream) == 1 then
    local start = '0-0'
    repeat
      local r = redis.call('XAUTOCLAIM', stream, 'workers', owner, 0, start,
                           'COUNT', 1000, 'JUSTID')
      start = r[1]
      adopted = adopted + #r[2]
    until start == '0-0'
  end
  return {'taken', cur or '', adopted}
end
"""

_ENTRY_FN: Final = """
local function entry_of(id)
  return tonumber((string.gsub(id, '-0$', '')))
end
local function marks(P, e)
  return redis.call('HGETALL', P .. ':entry:' .. e)
end
"""

CLAIM: Final = (
    _CLAIM_FN
    + """
return claim(ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5])
"""
)

# ARGV: P, w, owner ('' for a producer: no lease; '-' for an appender without the lease,
# who waits for the outcomes), ms, steal, cursor key ('' for none), cursor value, messages...
APPEND: Final = (
    _CLAIM_FN
    + _NOW
    + """
local P, w, owner = ARGV[1], ARGV[2], ARGV[3]
if owner ~= '' and owner ~= '-' then
  local c = claim(P, w, owner, tonumber(ARGV[4]), ARGV[5])
  if c[1] == 'busy' then return c end
end
local stream = P .. ':stream:' .. w
if redis.call('EXISTS', stream) == 0 then
  redis.call('XGROUP', 'CREATE', stream, 'workers', '0', 'MKSTREAM')
end
local t = now()
local out = {'ok'}
for i = 8, #ARGV do
  local e = redis.call('INCR', P .. ':seq')
  redis.call('XADD', stream, e .. '-0', 'm', ARGV[i], 't', t)
  redis.call('HSET', P .. ':entry:' .. e, 'w', w, 's', 'p', 'n', 0)
  if owner == '-' then redis.call('HSET', P .. ':entry:' .. e, 'x', 1) end
  out[#out + 1] = e
end
redis.call('SADD', P .. ':webhooks', w)
if #out > 1 then redis.call('SADD', P .. ':ready', w) end
if ARGV[6] ~= '' then redis.call('HSET', P .. ':cursors', ARGV[6], ARGV[7]) end
return out
"""
)

# ARGV: P, w, owner, ms, steal, after, limit (0: all). Our own unsettled entries first
# (XREADGROUP from `after`), then entries never read (XREADGROUP '>'): together in
# stream order, as the group hands entries out in order.
TAKE: Final = (
    _CLAIM_FN
    + _ENTRY_FN
    + """
local P, w, owner = ARGV[1], ARGV[2], ARGV[3]
local c = claim(P, w, owner, tonumber(ARGV[4]), ARGV[5])
if c[1] == 'busy' then return c end
local stream = P .. ':stream:' .. w
local after, limit = tonumber(ARGV[6]), tonumber(ARGV[7])
local out = {'ok'}
if redis.call('EXISTS', stream) == 0 then return out end
local function add(reply)
  if not reply then return end
  for _, item in ipairs(reply[1][2]) do
    local e = entry_of(item[1])
    if item[2] and e > after and (limit == 0 or #out - 1 < limit) then
      out[#out + 1] = {e, item[2], marks(P, e)}
    end
  end
end
local function read(from, room)
  if room == 0 then
    return redis.call('XREADGROUP', 'GROUP', 'workers', owner, 'STREAMS', stream, from)
  end
  return redis.call('XREADGROUP', 'GROUP', 'workers', owner, 'COUNT', room,
                    'STREAMS', stream, from)
end
add(read(ARGV[6] .. '-0', limit))
if limit == 0 or #out - 1 < limit then
  add(read('>', limit == 0 and 0 or limit - (#out - 1)))
end
return out
"""
)

# ARGV: P, w. Every pending entry, without reading it into the group.
PENDING: Final = (
    _ENTRY_FN
    + """
local P, w = ARGV[1], ARGV[2]
local out = {}
for _, item in ipairs(redis.call('XRANGE', P .. ':stream:' .. w, '-', '+')) do
  local e = entry_of(item[1])
  out[#out + 1] = {e, item[2], marks(P, e)}
end
return out
"""
)

# ARGV: P, w.
LAST: Final = (
    _ENTRY_FN
    + """
local top = redis.call('XREVRANGE', ARGV[1] .. ':stream:' .. ARGV[2], '+', '-', 'COUNT', 1)
if #top == 0 then return 0 end
return entry_of(top[1][1])
"""
)

# ARGV: P, entry, owner, ms, request.
MARK: Final = """
local P, e, owner = ARGV[1], ARGV[2], ARGV[3]
local key = P .. ':entry:' .. e
local h = redis.call('HMGET', key, 'w', 's')
if not h[1] or h[2] ~= 'p' then return {'missing'} end
local lease = P .. ':lease:' .. h[1]
if redis.call('GET', lease) ~= owner then return {'lost', h[1]} end
redis.call('PEXPIRE', lease, tonumber(ARGV[4]))
redis.call('HSET', key, 'f', ARGV[5])
return {'ok'}
"""

# ARGV: P, entry, request, id ('=ID' or '-'), thread ('' for none).
RECORD: Final = """
local P, e, req = ARGV[1], ARGV[2], tonumber(ARGV[3])
local key = P .. ':entry:' .. e
local h = redis.call('HMGET', key, 's', 'n')
if h[1] ~= 'p' then return {'missing'} end
local n = tonumber(h[2])
if req < n then return {'ok'} end
if req > n then return {'skip', n} end
redis.call('HSET', key, 'n', n + 1, 'i' .. req, ARGV[4])
redis.call('HDEL', key, 'f')
if ARGV[5] ~= '' then redis.call('HSET', key, 'th', ARGV[5]) end
return {'ok'}
"""

# ARGV: P, entry, outcome (for an appender). The entry leaves the group's pending list
# and the stream at once.
SETTLE: Final = (
    OUTCOME_FN
    + """
local P, e = ARGV[1], ARGV[2]
local key = P .. ':entry:' .. e
local h = redis.call('HMGET', key, 'w', 's', 'x')
if h[2] ~= 'p' then return 0 end
if h[3] then put_outcome(P, e, ARGV[3]) end
local stream = P .. ':stream:' .. h[1]
redis.call('XACK', stream, 'workers', e .. '-0')
redis.call('XDEL', stream, e .. '-0')
redis.call('DEL', key)
if redis.call('XLEN', stream) == 0 then redis.call('SREM', P .. ':ready', h[1]) end
return 1
"""
)

# ARGV: P, entry, record, outcome (for an appender).
SETTLE_DEAD: Final = (
    _NOW
    + OUTCOME_FN
    + """
local P, e = ARGV[1], ARGV[2]
local key = P .. ':entry:' .. e
local h = redis.call('HMGET', key, 'w', 's', 'x')
if h[2] ~= 'p' then return 0 end
if h[3] then put_outcome(P, e, ARGV[4]) end
local w = h[1]
local stream = P .. ':stream:' .. w
redis.call('XADD', P .. ':dead:' .. w, '*', 'e', e, 'r', ARGV[3], 't', now())
redis.call('XACK', stream, 'workers', e .. '-0')
redis.call('XDEL', stream, e .. '-0')
redis.call('DEL', key)
redis.call('HSET', key, 'w', w, 's', 'd')
if redis.call('XLEN', stream) == 0 then redis.call('SREM', P .. ':ready', w) end
return 1
"""
)

# ARGV: P, w, record.
PUT_DEAD: Final = (
    _NOW
    + """
local P, w = ARGV[1], ARGV[2]
local e = redis.call('INCR', P .. ':seq')
redis.call('XADD', P .. ':dead:' .. w, '*', 'e', e, 'r', ARGV[3], 't', now())
redis.call('HSET', P .. ':entry:' .. e, 'w', w, 's', 'd')
redis.call('SADD', P .. ':webhooks', w)
return e
"""
)

# ARGV: P, w. Each dead letter: entry, record, state, replayed time.
DEAD_LIST: Final = """
local P, w = ARGV[1], ARGV[2]
local out = {}
for _, item in ipairs(redis.call('XRANGE', P .. ':dead:' .. w, '-', '+')) do
  local f = {}
  for i = 1, #item[2], 2 do f[item[2][i]] = item[2][i + 1] end
  local h = redis.call('HMGET', P .. ':entry:' .. f['e'], 's', 'rp')
  out[#out + 1] = {f['e'], f['r'], h[1] or 'd', h[2] or ''}
end
return out
"""

# ARGV: P, entry. 1 marked now, 0 already replayed, -1 not a dead letter.
REPLAYED: Final = (
    _NOW
    + """
local key = ARGV[1] .. ':entry:' .. ARGV[2]
local s = redis.call('HGET', key, 's')
if s == 'd' then
  redis.call('HSET', key, 's', 'r', 'rp', now())
  return 1
end
if s == 'r' then return 0 end
return -1
"""
)

# ARGV: P, owner.
RELEASE: Final = """
local lease = ARGV[1] .. ':lease:' .. ARGV[2]
if redis.call('GET', lease) == ARGV[3] then
  redis.call('DEL', lease)
  return 1
end
return 0
"""

# ARGV: P, owner, ms, webhooks... A 1 or 0 for each: still ours (renewed) or lost.
RENEW: Final = """
local P, owner, ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {}
for i = 4, #ARGV do
  local lease = P .. ':lease:' .. ARGV[i]
  if redis.call('GET', lease) == owner then
    redis.call('PEXPIRE', lease, ms)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
"""

# ARGV: P, webhooks... Those among them with pending messages.
READY: Final = """
local out = {}
for i = 2, #ARGV do
  if redis.call('SISMEMBER', ARGV[1] .. ':ready', ARGV[i]) == 1 then
    out[#out + 1] = ARGV[i]
  end
end
return out
"""

# ARGV: P, w. {pending, maybe posted, dead, replayed, oldest accepted, holder, pttl}.
SUMMARY: Final = """
local P, w = ARGV[1], ARGV[2]
local pending = redis.call('XRANGE', P .. ':stream:' .. w, '-', '+')
local maybe = 0
for _, item in ipairs(pending) do
  local e = string.gsub(item[1], '-0$', '')
  if redis.call('HEXISTS', P .. ':entry:' .. e, 'f') == 1 then maybe = maybe + 1 end
end
local oldest = ''
if #pending > 0 then
  local f = pending[1][2]
  for i = 1, #f, 2 do if f[i] == 't' then oldest = f[i + 1] end end
end
local dead, replayed = 0, 0
for _, item in ipairs(redis.call('XRANGE', P .. ':dead:' .. w, '-', '+')) do
  local f = item[2]
  for i = 1, #f, 2 do
    if f[i] == 'e' then
      if redis.call('HGET', P .. ':entry:' .. f[i + 1], 's') == 'r' then
        replayed = replayed + 1
      else
        dead = dead + 1
      end
    end
  end
end
local lease = P .. ':lease:' .. w
return {#pending, maybe, dead, replayed, oldest, redis.call('GET', lease) or '',
        redis.call('PTTL', lease)}
"""

# ARGV: P, key.
CURSOR: Final = """
return redis.call('HGET', ARGV[1] .. ':cursors', ARGV[2]) or ''
"""

# ARGV: P.
WEBHOOKS: Final = """
return redis.call('SMEMBERS', ARGV[1] .. ':webhooks')
"""
