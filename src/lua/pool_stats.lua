-- pool_stats.lua - a pool's state for /stats and /metrics (src/pool.c,
-- pool_stats).
--
-- KEYS: idle, leases, waiters, counters. ARGV: session key prefix.
-- Returns {idle, busy, waiting, cooling, then the counters acquires,
-- releases, recycles, reclaims, timeouts, stale_releases, retired}, all
-- integers (11: STATS_REPLY_LEN in pool.c). It reclaims overdue leases
-- first, as acquire does: otherwise a dead holder's session would show as
-- busy until the next acquire, which an idle deployment may not see for a
-- long time.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pre = ARGV[1]
-- #include "pool_reclaim.inc.lua"
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
local cooling = 0
for _, id in ipairs(ids) do
  if (tonumber(redis.call('HGET', pre .. id, 'cool_until')) or 0) > now then
    cooling = cooling + 1
  end
end
local out = {#ids, redis.call('ZCARD', KEYS[2]),
  redis.call('ZCOUNT', KEYS[3], '(' .. now, '+inf'), cooling}
local c = redis.call('HMGET', KEYS[4], 'acquires', 'releases', 'recycles',
  'reclaims', 'timeouts', 'stale_releases', 'retired')
for i = 1, #c do out[#out + 1] = tonumber(c[i]) or 0 end
return out
