-- conv_create.lua - a new conversation of at most CONV_FAST_MAX messages,
-- within the caps (the caller checked them) (src/conv.c, conv_append_add).
--
-- KEYS: meta, msgs. ARGV: tenant, model, ttl_s, bytes, deadline_ms, then one
-- message per argument.
-- Returns as conv_append.lua does: the server time in ms when stored, -1
-- when the id exists, -3 past the deadline; nothing is written otherwise.
local deadline = ARGV[5]
-- #include "conv_store_head.inc.lua"
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return -1 end
redis.call('RPUSH', KEYS[2], unpack(ARGV, 6))
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'model', ARGV[2], 'created', now,
           'updated', now, 'message_count', #ARGV - 5, 'bytes', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return now_ms
