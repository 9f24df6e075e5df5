-- resp_items.lua - stored messages by position, for item ids
-- (src/resp_store.c, items_fetch).
--
-- KEYS: meta, msgs. ARGV: tenant, then positions (decimal).
-- Returns false when the conversation is missing or not the tenant's (the
-- same answer, so ids of others cannot be probed); else one entry per
-- position, false where there is none.
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return false end
local out = {}
for i = 2, #ARGV do
  out[i - 1] = redis.call('LINDEX', KEYS[2], tonumber(ARGV[i])) or false
end
return out
