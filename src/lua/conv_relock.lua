-- conv_relock.lua - extend a turn lock still held (src/conv.c, conv_lock_renew).
-- Compare-and-extend: only the holder's token acts (see conv_unlock.lua).
--
-- KEYS: the lock. ARGV: token, the lease in ms. Returns 1 done, 0 not the
-- holder.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
