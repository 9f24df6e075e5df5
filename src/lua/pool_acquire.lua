-- pool_acquire.lua - lease one session of a pool (src/pool.c, pool_acquire).
--
-- KEYS: idle (list), leases (zset: id -> deadline ms), waiters (zset: token
--       -> until ms), counters (hash), seq (counter of session ids).
-- ARGV: session key prefix, size, lease_ms, holder, waiter token, wait_ms,
--       waited ("1" when this token may be registered as a waiter),
--       deadline (ms, the server's clock: see pool.h).
-- Returns {id, gen, turns, now} of the leased session (now: the server's
-- clock in ms, which the request's stored turn is then dated with), or
-- {now} when none is idle (the token is then registered as a waiter until
-- now + wait_ms), or now alone (an integer) when it ran after its deadline:
-- its caller may have stopped waiting, so it changed nothing.
--
-- Idle order is FIFO (release RPUSHes, acquire takes the first healthy one
-- from the head): every session serves turns in rotation, so turns and
-- context spread evenly and no session sits idle long enough to go stale.
-- Every call here costs the single-threaded server a few microseconds, and
-- this runs once per request: the common case (the head of the idle list
-- is usable) makes 7 calls. Reclaiming dead holders' leases and creating
-- sessions up to the size happen only when nothing idle is usable (and
-- reclaiming in the stats script too).
local now
do local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end
if now > tonumber(ARGV[8]) then return now end
local pre = ARGV[1]
-- The first usable idle session, reading the list a page at a time; else
-- the one whose cool-down ends first, flagged as cooling.
local function take()
  local cand, cg, ct, best, gone, from = nil, nil, nil, nil, {}, 0
  local pick, pg, pt
  while not pick do
    local ids = redis.call('LRANGE', KEYS[1], from, from + 15)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      local h = redis.call('HMGET', pre .. id, 'gen', 'turns', 'cool_until')
      if not h[1] then
        -- its hash is gone: dropped below
        gone[#gone + 1] = id
      else
        local cool = tonumber(h[3]) or 0
        if cool <= now then pick, pg, pt = id, h[1], h[2] break end
        if not best or cool < best then cand, cg, ct, best = id, h[1], h[2], cool end
      end
    end
    from = from + 16
  end
  for _, id in ipairs(gone) do redis.call('LREM', KEYS[1], 0, id) end
  if pick then return pick, pg, pt, false end
  return cand, cg, ct, true
end
local pick, pg, pt, cooling = take()
if not pick or cooling then
  -- #include "pool_reclaim.inc.lua"
  -- Waiters of processes that died before they cleaned up.
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  local have = redis.call('LLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2])
  while have < tonumber(ARGV[2]) do
    local id = 's' .. redis.call('INCR', KEYS[5])
    redis.call('HSET', pre .. id, 'gen', 1, 'turns', 0, 'cool_until', 0)
    redis.call('RPUSH', KEYS[1], id)
    have = have + 1
  end
  pick, pg, pt, cooling = take()
end
if not pick then
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[6]), ARGV[5])
  return {now}
end
redis.call('LREM', KEYS[1], 1, pick)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), pick)
redis.call('HSET', pre .. pick, 'holder', ARGV[4])
redis.call('HINCRBY', KEYS[4], 'acquires', 1)
if ARGV[7] == '1' then redis.call('ZREM', KEYS[3], ARGV[5]) end
return {pick, tonumber(pg) or -1, tonumber(pt) or -1, now}
