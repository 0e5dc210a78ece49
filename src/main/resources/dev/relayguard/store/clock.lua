-- RelayGuard's Redis state (AUTH state, holds): the lines that auth.lua and holds.lua start with. Not a script on
-- its own: RedisScript puts it in front of the prelude whose first line names it.
-- ARGV[1]  "" (use the Redis clock: TIME, shared by all James nodes) or a time in epoch millis (tests only)
-- ARGV[2]  <P>, the prefix of every key of the script
-- Numbers are Lua doubles: every value here is an integer below 2^53; ms() writes one without an exponent.
if redis.replicate_commands then
  pcall(redis.replicate_commands) -- Redis < 5: replicate the writes, not the script (it reads TIME)
end
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local P = ARGV[2]

local function ms(x)
  return string.format('%.0f', x)
end
