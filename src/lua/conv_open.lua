-- conv_open.lua - a conversation created by the Conversations API, empty or
-- with its first items (src/conv.c, conv_create_api).
--
-- KEYS: meta, msgs. ARGV: tenant, ttl_s, metadata (compact JSON; "": none),
-- deadline_ms, bytes of the messages, then one message per argument (the
-- caller checked the caps: at most 20 items).
-- Returns the server time in ms when created, -1 when the id exists, -3
-- past the deadline; nothing is written otherwise. The model is "" until a
-- turn names one.
local deadline = ARGV[4]
-- #include "conv_store_head.inc.lua"
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return -1 end
local n = #ARGV - 5
if n > 0 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 6))
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'model', '', 'created', now,
           'updated', now, 'message_count', n, 'bytes', ARGV[5])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'metadata', ARGV[3]) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return now_ms
