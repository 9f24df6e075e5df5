-- resp_input.lua - a stored response's input messages
-- (src/resp_store.c, resp_input_items).
--
-- KEYS: meta, record, msgs. ARGV: tenant.
-- Returns false when the record or the conversation is missing or not the
-- tenant's; else {in_start, the messages of positions [in_start, in_end)}.
-- A record that does not say its range gives {-1}: not one of ours.
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return false end
local rec = redis.call('GET', KEYS[2])
if not rec then return false end
local ok, r = pcall(cjson.decode, rec)
if not ok or type(r) ~= 'table' or type(r.in_start) ~= 'number' or
   type(r.in_end) ~= 'number' or r.in_start < 0 or r.in_end < r.in_start then
  return {-1}
end
if r.in_end == r.in_start then return {r.in_start, {}} end
return {r.in_start, redis.call('LRANGE', KEYS[3], r.in_start, r.in_end - 1)}
