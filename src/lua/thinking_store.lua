-- thinking_store.lua - keep an answer's thinking blocks under each of its
-- tool-call ids (src/thinking_store.c, thinking_store_add).
--
-- KEYS: one per tool-call id. ARGV: ttl_s, then per answer the number of
-- keys it takes (in KEYS order) and its blocks.
-- Returns the number of keys set. The blob crosses the network once however
-- many ids share it.
local ttl, k, pos = ARGV[1], 1, 2
while pos < #ARGV do
  local n, blob = tonumber(ARGV[pos]), ARGV[pos + 1]
  for i = 1, n do
    redis.call('SET', KEYS[k], blob, 'EX', ttl)
    k = k + 1
  end
  pos = pos + 2
end
return k - 1
