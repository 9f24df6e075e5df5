-- conv_item_delete.lua - delete one stored message, leaving a tombstone at
-- its position so that the positions after it, and the ids derived from
-- them, stay true (src/conv.c, conv_item_delete; conv.h).
--
-- KEYS: meta, msgs. ARGV: tenant, position, the tombstone.
-- Returns {created, metadata or false} when done; -1 when the conversation
-- is missing or not tenant's, -2 when the position is past the end or
-- already a tombstone. The meta's bytes shrink by what was removed;
-- message_count (positions) stays.
local v = redis.call('HMGET', KEYS[1], 'owner', 'created', 'metadata')
if v[1] ~= ARGV[1] then return -1 end
local e = redis.call('LINDEX', KEYS[2], ARGV[2])
if not e or e == ARGV[3] then return -2 end
redis.call('LSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HINCRBY', KEYS[1], 'bytes', #ARGV[3] - #e)
return {v[2], v[3]}
