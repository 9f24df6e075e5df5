-- conv_store_head.inc.lua - how conv_append.lua and conv_create.lua start:
-- the server's time, and -3 without writing anything when it is past the
-- store deadline (the local `deadline`, ms; see conv.h).
-- replicate_commands: TIME comes before the writes (needed on Redis < 5, a
-- no-op after).
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now_ms > tonumber(deadline) then return -3 end
local now = tonumber(t[1])
