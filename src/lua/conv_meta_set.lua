-- conv_meta_set.lua - replace a conversation's metadata (src/conv.c,
-- conv_set_metadata).
--
-- KEYS: meta. ARGV: tenant, metadata (compact JSON; "": none).
-- Returns the conversation's creation time (Unix s, as stored), or -1 when
-- it is missing or not tenant's (then nothing changes).
local v = redis.call('HMGET', KEYS[1], 'owner', 'created')
if v[1] ~= ARGV[1] then return -1 end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], 'metadata')
else
  redis.call('HSET', KEYS[1], 'metadata', ARGV[2])
end
return tonumber(v[2]) or 0
