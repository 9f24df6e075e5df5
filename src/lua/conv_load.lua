-- conv_load.lua - read a conversation (src/conv.c, load_run).
--
-- KEYS: meta, msgs. ARGV: the most bytes returned whole.
-- Returns {meta as HGETALL's flat list, the messages}: the meta and the list
-- from one instant, so message_count matches the messages even while
-- another turn is being appended. A history over ARGV[1] bytes comes as
-- {meta, false} (a nil), to be read in parts. A missing conversation is
-- {{}, {}}.
-- Sent with EVAL in the read's pipeline (after the turn lock's command,
-- which must run first): a forgotten EVALSHA would be re-run after the batch.
local m = redis.call('HGETALL', KEYS[1])
local b = tonumber(redis.call('HGET', KEYS[1], 'bytes')) or 0
if b > tonumber(ARGV[1]) then return {m, false} end
return {m, redis.call('LRANGE', KEYS[2], 0, -1)}
