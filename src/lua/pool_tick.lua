-- pool_tick.lua - a process's background tick for the leases it holds
-- (src/pool.c, the keep): kept idle ones and ones in use by its requests.
--
-- KEYS: leases (zset: id -> deadline ms), waiters (zset: token -> until ms),
--       counters (hash).
-- ARGV: session key prefix, lease_ms, acquires and releases made in memory
--       since the last tick (added to the counters, so /stats counts every
--       request's), deadline (ms, the server's clock: as acquire's, pool.h),
--       then for each lease four: id, holder,
--       turns to add (served while kept, not written yet), renew ("1": push
--       its deadline to now + lease_ms).
-- Returns {now, -1} when it ran past its deadline: a tick that waited in a
-- stalled server's socket changes nothing (a late renewal would hold, for
-- a whole lease, a session its process has since let go). Else
-- {now, waiting, then one status per lease: 1 still this holder's
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
if now > tonumber(ARGV[5]) then return {now, -1} end
if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', KEYS[3], 'acquires', ARGV[3]) end
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBY', KEYS[3], 'releases', ARGV[4]) end
local out = {now, redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')}
for i = 6, #ARGV - 3, 4 do
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
