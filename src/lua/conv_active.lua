-- conv_active.lua - how many conversations are live (src/conv.c,
-- conv_active_count).
--
-- KEYS: the active index (zset: id -> expiry, ms). Returns how many entries
-- expire after the server's now, and drops those that expired: the stores
-- trim the index only now and then (conv.h), so the /stats read, which is
-- rare next to them, keeps it short too.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
