-- conv_lock_load.lua - take a conversation's turn lock and read it, in one
-- script (src/conv.c, load_locked).
--
-- KEYS: meta, msgs, the lock, and optionally a key of the conversation that
-- must exist (a stored response's record: a deleted one continues nothing).
-- ARGV: tenant, token, lease_ms, deadline_ms (server clock; 0: none), the
-- most bytes returned whole, how many positions to read from the start (-1:
-- all), as conv_load.lua.
-- Returns {state, now_ms} or, when taken, {1, now_ms, {meta, messages}} with
-- the last as conv_load.lua's reply (the messages a nil when over ARGV[5]
-- bytes: read in parts, after the lock). state: 1 taken; 0 another turn holds
-- it; -1 the conversation is missing, not tenant's, or KEYS[4] is missing
-- (nothing locked: another tenant's id is not found even while locked); -3
-- past the deadline (nothing written): a script that waited in a stalled
-- server's socket while the turn was answered 503 must not lock the
-- conversation for a lease when the server wakes up.
-- One script, so sent with EVALSHA: the lock and the read cannot be split
-- by a NOSCRIPT re-run (valkey.h: a forgotten script runs again after the
-- batch), which is what made the two separate scripts plain EVALs.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local d = tonumber(ARGV[4])
if d > 0 and now > d then return {-3, now} end
if KEYS[4] and redis.call('EXISTS', KEYS[4]) == 0 then return {-1, now} end
local m = redis.call('HGETALL', KEYS[1])
-- The owner and the bytes from the fields already read (no HGET each).
local owner, b
for i = 1, #m, 2 do
  if m[i] == 'owner' then owner = m[i + 1] elseif m[i] == 'bytes' then b = m[i + 1] end
end
if owner ~= ARGV[1] then return {-1, now} end
if not redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3]) then return {0, now} end
if (tonumber(b) or 0) > tonumber(ARGV[5]) then return {1, now, {m, false}} end
local n = tonumber(ARGV[6]) or -1
if n < 0 then return {1, now, {m, redis.call('LRANGE', KEYS[2], 0, -1)}} end
if n == 0 then return {1, now, {m, {}}} end
return {1, now, {m, redis.call('LRANGE', KEYS[2], 0, n - 1)}}
