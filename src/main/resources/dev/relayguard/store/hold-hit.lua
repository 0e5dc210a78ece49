-- prelude: holds.lua
-- RelayGuard holds: counts one hit against a key; the hits-th within `within` holds it for `holdFor`.
-- KEYS[1] <P>k:<key>  KEYS[2] <P>h:<key>  KEYS[3] <P>tracked  KEYS[4] <P>held
-- ARGV[3] key  ARGV[4] reason  ARGV[5] hits (>0)  ARGV[6] within (ms)  ARGV[7] holdFor (ms)
-- ARGV[8] maxTracked  ARGV[9] maxHeld
-- Returns  the end of the hold this hit started (epoch millis; it started now, the end less holdFor), or 0 (no hold
--          started; also when already held)
local key, reason = ARGV[3], ARGV[4]
local hits, within, holdFor = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local maxTracked, maxHeld = tonumber(ARGV[8]), tonumber(ARGV[9])
if hits < 1 or holdOf(key) then
  return 0
end
redis.call('LPUSH', KEYS[2], ms(now))
redis.call('LTRIM', KEYS[2], 0, hits - 1)
if redis.call('LLEN', KEYS[2]) >= hits and now - tonumber(redis.call('LINDEX', KEYS[2], hits - 1)) < within then
  local untilMs = now + holdFor
  if holdFor > 0 then
    put(key, now, untilMs, reason, maxHeld)
  else
    redis.call('DEL', KEYS[2])
    redis.call('ZREM', KEYS[3], key)
  end
  return untilMs
end
redis.call('PEXPIRE', KEYS[2], ms(within))
redis.call('ZADD', KEYS[3], ms(now + within), key)
forgetEnded()
local extra = redis.call('ZCARD', KEYS[3]) - maxTracked
if extra > 0 then
  for _, other in ipairs(redis.call('ZRANGE', KEYS[3], 0, extra - 1)) do
    redis.call('DEL', P .. 'h:' .. other)
    redis.call('ZREM', KEYS[3], other)
  end
end
return 0
