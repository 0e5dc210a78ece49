-- prelude: auth.lua
-- RelayGuard AUTH state: whether a client logged in to an account successfully within rememberFor (read only).
-- KEYS[1] <P>k:<account>   ARGV[3] client   ARGV[4] rememberForMillis
-- Returns  1 (known) or 0
local last = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[3]))
if last and now - last < tonumber(ARGV[4]) then
  return 1
end
return 0
