-- conv_items_add.lua - append items to a conversation (src/conv.c,
-- conv_items_append).
--
-- KEYS: meta, msgs, the turn lock. ARGV: tenant, ttl_s, max_messages,
-- max_bytes, deadline_ms, bytes of the messages, then one message per
-- argument.
-- Returns {now_ms, position of the first one} when stored; -1 when the
-- conversation is missing or not tenant's, -2 over a cap, -3 past the
-- deadline, -5 while a turn holds the lock (that turn read the history
-- without these and would store its answer after them). Nothing is written
-- unless it returns the pair.
local deadline = ARGV[5]
-- #include "conv_store_head.inc.lua"
local v = redis.call('HMGET', KEYS[1], 'owner', 'message_count', 'bytes')
if v[1] ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[3]) == 1 then return -5 end
local n = #ARGV - 6
local count, bytes = tonumber(v[2]) or 0, tonumber(v[3]) or 0
if count + n > tonumber(ARGV[3]) or bytes + tonumber(ARGV[6]) > tonumber(ARGV[4]) then
  return -2
end
redis.call('RPUSH', KEYS[2], unpack(ARGV, 7))
redis.call('HSET', KEYS[1], 'updated', now, 'message_count', count + n,
           'bytes', bytes + tonumber(ARGV[6]))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return {now_ms, count}
