-- pool_reclaim.inc.lua - included by pool_acquire.lua and pool_stats.lua.
-- Leases past their deadline belong to holders that died or hung: each goes
-- back to the idle list, counted as a reclaim.
-- Expects KEYS[1] idle, KEYS[2] leases, KEYS[4] counters, and the locals
-- `now` (the server's clock, ms) and `pre` (the session key prefix).
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', pre .. id, 'holder')
  redis.call('RPUSH', KEYS[1], id)
  redis.call('HINCRBY', KEYS[4], 'reclaims', 1)
end
