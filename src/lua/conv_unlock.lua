-- conv_unlock.lua - give a turn lock back (src/conv.c, conv_unlock).
-- Compare-and-delete: only the holder's token acts, so a late release of a
-- lock that expired and was taken by the next turn leaves that turn's lock
-- alone (as pool.c fences its leases).
--
-- KEYS: the lock. ARGV: token. Returns 1 done, 0 not the holder.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
