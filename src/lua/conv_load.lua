-- conv_load.lua - read a conversation (src/conv.c, load_run).
--
-- KEYS: meta, msgs, and optionally a key of the conversation that must exist
-- (a stored response's record: a deleted one continues nothing).
-- ARGV: the most bytes returned whole; how many positions to read from the
-- start (-1: all; a continuation from an earlier response reads the
-- conversation as it was then).
-- Returns {meta as HGETALL's flat list, the messages}: the meta and the list
-- from one instant, so message_count matches the messages even while
-- another turn is being appended. A history over ARGV[1] bytes comes as
-- {meta, false} (a nil), to be read in parts. A missing conversation (or a
-- missing KEYS[3]) is {{}, {}}.
-- Alone in its round trip, so sent with EVALSHA; a turn that takes the lock
-- reads with conv_lock_load.lua instead.
if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 0 then return {{}, {}} end
local m = redis.call('HGETALL', KEYS[1])
local b = tonumber(redis.call('HGET', KEYS[1], 'bytes')) or 0
if b > tonumber(ARGV[1]) then return {m, false} end
local n = tonumber(ARGV[2]) or -1
if n < 0 then return {m, redis.call('LRANGE', KEYS[2], 0, -1)} end
if n == 0 then return {m, {}} end
return {m, redis.call('LRANGE', KEYS[2], 0, n - 1)}
