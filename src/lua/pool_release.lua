-- pool_release.lua - give a leased session back (src/pool.c, pool_release).
--
-- KEYS: idle, leases, counters, seq.
-- ARGV: session key prefix, id, gen, holder, max_turns, cooldown_ms,
--       outcome (0 done, 1 refused), size, turns (this one plus those the
--       holder served while its process kept the session and has not written
--       yet: pool.c counts them locally and writes them in batches),
--       count ("0": a session its process kept goes back; the request's
--       release was counted then, so this one is not counted again).
-- Returns {status, recycled}: status 0 stale (the lease was reclaimed, maybe
-- re-leased: nothing changes but the stale_releases count), 1 back to idle,
-- 2 retired (the pool holds more sessions than its size). recycled is 1 when
-- the session reached max_turns and was replaced by a new one (gen + 1).
local pre, id = ARGV[1], ARGV[2]
local key = pre .. id
local h = redis.call('HMGET', key, 'gen', 'holder')
if h[1] ~= ARGV[3] or h[2] ~= ARGV[4] or redis.call('ZREM', KEYS[2], id) == 0 then
  redis.call('HINCRBY', KEYS[3], 'stale_releases', 1)
  return {0, 0}
end
local now
do local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end
redis.call('HDEL', key, 'holder')
if ARGV[10] ~= '0' then redis.call('HINCRBY', KEYS[3], 'releases', 1) end
local turns = redis.call('HINCRBY', key, 'turns', tonumber(ARGV[9]) or 1)
if redis.call('LLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[8]) then
  redis.call('DEL', key)
  redis.call('HINCRBY', KEYS[3], 'retired', 1)
  return {2, 0}
end
local recycled = 0
if turns >= tonumber(ARGV[5]) then
  redis.call('DEL', key)
  id = 's' .. redis.call('INCR', KEYS[4])
  key = pre .. id
  redis.call('HSET', key, 'gen', tonumber(h[1]) + 1, 'turns', 0, 'cool_until', 0)
  redis.call('HINCRBY', KEYS[3], 'recycles', 1)
  recycled = 1
end
if ARGV[7] == '1' then
  redis.call('HSET', key, 'cool_until', now + tonumber(ARGV[6]))
end
redis.call('RPUSH', KEYS[1], id)
return {1, recycled}
