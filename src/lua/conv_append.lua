-- conv_append.lua - store a turn's messages (src/conv.c, conv_append_add).
--
-- KEYS: meta (hash), msgs (list), and the turn lock when the turn holds one.
-- ARGV: tenant, model, create ("1"/"0"), ttl_s, max_messages, max_bytes, n,
--       n_client, deadline_ms, then the n messages joined by "\n" (json-c's
--       plain output never holds a raw newline, so the split is exact), then
--       the lock's token when KEYS[3] is given.
-- A conversation without a model (one the Conversations API created) takes
-- this turn's.
-- Returns the server time in ms (> 0) when stored; -1 when the conversation
-- is missing or not tenant's (or, creating, already exists); -2 over a cap
-- (max_messages counts every message, max_bytes only the n_client first);
-- -3 past the deadline; -4 when the turn lock is no longer this turn's (it
-- expired: another turn may have read the history without this one); the
-- error reply "AXON bad message list" when the messages do not split into
-- n. Nothing is written unless it returns the time, except the turn lock:
-- given back (deleted) on every return after the check that it is this
-- turn's (stored, -1, -2, the bad list), so that the settle round trip needs
-- no unlock command of its own. Past the deadline (-3) it is left to the
-- caller's unlock, as is a lock that is no longer this turn's (-4): not ours.
local deadline = ARGV[9]
-- #include "conv_store_head.inc.lua"
if KEYS[3] and redis.call('GET', KEYS[3]) ~= ARGV[11] then return -4 end
-- x, with the turn lock (when given: checked above to be ours) given back.
local function done(x)
  if KEYS[3] then redis.call('DEL', KEYS[3]) end
  return x
end
local v = redis.call('HMGET', KEYS[1], 'owner', 'message_count', 'bytes', 'model')
local create = ARGV[3] == '1'
if create then
  if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return done(-1) end
elseif v[1] ~= ARGV[1] then
  return done(-1)
end
local blob, nclient, list, cbytes, pos = ARGV[10], tonumber(ARGV[8]), {}, 0, 1
while pos <= #blob + 1 do
  local nl = string.find(blob, '\n', pos, true) or #blob + 1
  list[#list + 1] = string.sub(blob, pos, nl - 1)
  if #list <= nclient then cbytes = cbytes + nl - pos end
  pos = nl + 1
end
if #list ~= tonumber(ARGV[7]) then return done(redis.error_reply('AXON bad message list')) end
local count, bytes = tonumber(v[2]) or 0, tonumber(v[3]) or 0
if count + #list > tonumber(ARGV[5]) or bytes + cbytes > tonumber(ARGV[6]) then
  return done(-2)
end
-- In chunks: unpack() in Lua 5.1 stops near 8000 values.
for i = 1, #list, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(list, i, math.min(i + 1000 - 1, #list)))
end
if create then
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'model', ARGV[2], 'created', now)
elseif v[4] == '' then
  -- Made by the Conversations API (conv_open.lua): the first turn names it.
  redis.call('HSET', KEYS[1], 'model', ARGV[2])
end
redis.call('HSET', KEYS[1], 'updated', now, 'message_count', count + #list,
           'bytes', bytes + #blob - (#list - 1))
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return done(now_ms)
