-- pool_renew.lua - extend a lease still held (src/pool.c, pool_renew).
--
-- KEYS: leases. ARGV: session key prefix, id, holder, lease_ms.
-- Returns the server time (ms) when the deadline moved, 0 when the lease is
-- no longer ours.
if redis.call('HGET', ARGV[1] .. ARGV[2], 'holder') ~= ARGV[3] then return 0 end
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[4]), ARGV[2])
return now
