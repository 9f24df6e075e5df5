-- pool_tick.lua - a process's background tick for the leases it holds
-- (src/pool.c, the keep): kept idle ones and ones in use by its requests.
--
-- KEYS: leases (zset: id -> deadline ms), waiters (zset: token -> until ms).
-- ARGV: session key prefix, lease_ms, then for each lease four: id, holder,
--       turns to add (served while kept, not written yet), renew ("1": push
--       its deadline to now + lease_ms).
-- Returns {now, waiting, then one status per lease: 1 still this holder's
-- (renewed and its turns added as asked), 0 no longer (reclaimed: nothing
-- changed)}. waiting counts live waiters of every process: the caller hands
-- its kept leases back when some are not its own.
--
-- It runs only while the process holds a lease, once per tick (pool.c
-- POOL_TICK_MS): per lease a HGET and a ZSCORE, a ZADD only when a renewal
-- is due and a HINCRBY only when there are turns to write.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pre, lease = ARGV[1], tonumber(ARGV[2])
local out = {now, redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')}
for i = 3, #ARGV - 3, 4 do
  local id = ARGV[i]
  local ok = 0
  if redis.call('HGET', pre .. id, 'holder') == ARGV[i + 1] and
     redis.call('ZSCORE', KEYS[1], id) then
    ok = 1
    if ARGV[i + 3] == '1' then redis.call('ZADD', KEYS[1], 'XX', now + lease, id) end
    local add = tonumber(ARGV[i + 2])
    if add > 0 then redis.call('HINCRBY', pre .. id, 'turns', add) end
  end
  out[#out + 1] = ok
end
return out
