-- resp_record.lua - a stored response's record: read or delete it
-- (src/resp_store.c, resp_get and resp_delete).
--
-- KEYS: meta, record. ARGV: tenant, "get" or "del".
-- get: the record, or false when it or the conversation is missing or the
-- conversation is not the tenant's. del: 1 when deleted, 0 as get's false.
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  if ARGV[2] == 'del' then return 0 end
  return false
end
if ARGV[2] == 'del' then return redis.call('DEL', KEYS[2]) end
return redis.call('GET', KEYS[2])
