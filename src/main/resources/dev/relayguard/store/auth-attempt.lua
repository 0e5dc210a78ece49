-- prelude: auth.lua
-- RelayGuard AUTH state: what blocks one login attempt before its password is checked (AuthState.checkAttempt),
-- read only: the client's ban, else the account's throttle unless the client is known for the account.
-- KEYS[1] <P>bans   KEYS[2] <P>throttles   KEYS[3] <P>k:<account>
-- ARGV[3] client   ARGV[4] account   ARGV[5] rememberForMillis
-- Returns  {when the client's ban ends or 0, when the account's throttle ends or 0 (0 as well when the client is known)}
local ban = blockEnd(KEYS[1], ARGV[3])
if ban then
  return {ban, 0}
end
local throttle = blockEnd(KEYS[2], ARGV[4])
if throttle then
  local last = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[3]))
  if last and now - last < tonumber(ARGV[5]) then
    return {0, 0}
  end
  return {0, throttle}
end
return {0, 0}
