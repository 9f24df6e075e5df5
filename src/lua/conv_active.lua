-- conv_active.lua - how many conversations are live (src/conv.c,
-- conv_active_count).
--
-- KEYS: the active index (zset: id -> expiry, ms). Returns how many entries
-- expire after the server's now.
local t = redis.call('TIME')
return redis.call('ZCOUNT', KEYS[1], t[1] * 1000 + math.floor(t[2] / 1000), '+inf')
