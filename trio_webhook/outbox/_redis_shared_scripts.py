"""The Lua of a shared Redis outbox: outcomes for appenders without the lease.

Keys (as in :mod:`trio_webhook.outbox._redis_scripts`; ``E`` an entry):

- ``P:outcome:E``: how the holder settled an entry appended without the lease
  (``ok <json>`` or ``dead <json>``), kept :data:`OUTCOME_TTL_MS` for its appender, who
  reads and deletes it;
- ``P:wake:E``: a list the holder pushes to when it writes the outcome, so the appender
  blocks on it (``BLPOP``) instead of polling.

An entry appended without the lease has ``x`` set in ``P:entry:E``; only those get an
outcome, so a producer (``enqueue``) or a holder's own messages cost nothing more.
"""

from __future__ import annotations

from typing import Final

__all__ = ["OUTCOME", "OUTCOME_FN", "OUTCOME_TTL_MS"]

# Long enough for an appender that is busy or reconnecting; short enough that the
# outcomes of appenders that died do not pile up (each is about the size of Discord's
# answer).
OUTCOME_TTL_MS: Final = 600_000

# put_outcome(P, e, text): keep an outcome for the entry's appender and wake it.
OUTCOME_FN: Final = f"""
local function put_outcome(P, e, text)
  redis.call('SET', P .. ':outcome:' .. e, text, 'PX', {OUTCOME_TTL_MS})
  local wake = P .. ':wake:' .. e
  redis.call('RPUSH', wake, 1)
  redis.call('PEXPIRE', wake, {OUTCOME_TTL_MS})
end
"""

# ARGV: P, entry. {'pending'}; {'done', text} (then forgotten); {'dead', ''} for a dead
# letter whose outcome is gone; {'gone'} for an entry settled without one (delivered).
OUTCOME: Final = """
local P, e = ARGV[1], ARGV[2]
local s = redis.call('HGET', P .. ':entry:' .. e, 's')
if s == 'p' then return {'pending'} end
local key = P .. ':outcome:' .. e
local text = redis.call('GET', key)
redis.call('DEL', key, P .. ':wake:' .. e)
if text then return {'done', text} end
if s then return {'dead', ''} end
return {'gone'}
"""
