-- RelayGuard's Redis scripts: the clock, the lines that auth.lua, holds.lua and the rate-limit scripts (decide.lua,
-- usage.lua) start with. Not a script on its own: RedisScript puts it in front of the script whose prelude names it.
-- ARGV[1]  "" (use the Redis clock: TIME, shared by all James nodes) or a time in epoch millis (tests only)
-- ARGV[2]  <P>, the prefix of every key of the script (auth.lua, holds.lua; the rate-limit scripts use ARGV[2] for
--          their own argument and ignore P)
-- Defines  redisNow: Redis TIME in epoch millis, always (deadlines and TTLs are on the Redis clock);
--          now: the time decisions use (redisNow, or ARGV[1] in tests)
-- Numbers are Lua doubles: every value here is an integer below 2^53; ms() writes one without an exponent.
if redis.replicate_commands then
  pcall(redis.replicate_commands) -- Redis < 5: replicate the writes, not the script (it reads TIME)
end
local t = redis.call('TIME')
local redisNow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now = redisNow
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
end
local P = ARGV[2]

local function ms(x)
  return string.format('%.0f', x)
end
