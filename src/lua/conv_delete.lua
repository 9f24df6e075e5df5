-- conv_delete.lua - delete a conversation (src/conv.c, conv_delete).
--
-- KEYS: meta, msgs. ARGV: tenant.
-- Returns 1 when deleted, 0 when missing or not tenant's (then nothing
-- changes).
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
