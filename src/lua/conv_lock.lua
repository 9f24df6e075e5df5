-- conv_lock.lua - take a conversation's turn lock (src/conv.c,
-- conv_load_locked).
--
-- KEYS: the lock. ARGV: token, lease_ms, deadline_ms (server clock; 0:
-- none).
-- Returns {1, now_ms} when taken, {0, now_ms} when another turn holds it,
-- {-3, now_ms} past the deadline (nothing written): a SET that waited in a
-- stalled server's socket while the turn was answered 503 must not lock the
-- conversation for a lease when the server wakes up.
-- Sent with EVAL (a plain command), not EVALSHA: a script the server forgot
-- would run again after the read (valkey.h), and a turn stored in between
-- would be missed.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local d = tonumber(ARGV[3])
if d > 0 and now > d then return {-3, now} end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, now} end
return {0, now}
