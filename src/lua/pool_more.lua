-- pool_more.lua - lease more idle sessions for one answer (src/pool.c,
-- pool_acquire_more).
--
-- KEYS: idle, leases, counters.
-- ARGV: session key prefix, lease_ms, not_after (server ms), then one
--       holder token per session wanted.
-- Returns {now, then id, gen, turns for each session leased}: healthy idle
-- ones only, up to the number of holders, from the head of the idle list.
-- Nothing when the server's clock is past not_after: the caller has given
-- up on this answer, and a lease nobody holds would keep the session busy
-- until its deadline.
local now
do local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end
if now > tonumber(ARGV[3]) then return {now} end
local pre, want, got, from = ARGV[1], #ARGV - 3, {}, 0
while #got < want do
  local ids = redis.call('LRANGE', KEYS[1], from, from + 15)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local h = redis.call('HMGET', pre .. id, 'gen', 'turns', 'cool_until')
    if h[1] and (tonumber(h[3]) or 0) <= now then got[#got + 1] = {id, h[1], h[2]} end
    if #got == want then break end
  end
  from = from + 16
end
local out = {now}
for i, g in ipairs(got) do
  redis.call('LREM', KEYS[1], 1, g[1])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), g[1])
  redis.call('HSET', pre .. g[1], 'holder', ARGV[3 + i])
  redis.call('HINCRBY', KEYS[3], 'acquires', 1)
  out[#out + 1] = g[1]
  out[#out + 1] = tonumber(g[2]) or -1
  out[#out + 1] = tonumber(g[3]) or -1
end
return out
