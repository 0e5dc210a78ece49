-- prelude: holds.lua
-- RelayGuard holds: holds a key by hand (an operator's suspension, a suspicious login), replacing the end and reason of
-- any hold it has; a key held now keeps the start of its hold, any other starts now.
-- KEYS[1] <P>k:<key>  KEYS[2] <P>h:<key>  KEYS[3] <P>tracked  KEYS[4] <P>held
-- ARGV[3] key  ARGV[4] until (epoch millis, -1 until lifted)  ARGV[5] reason  ARGV[6] maxHeld
-- Returns  1 when the key is held now, 0 when the end given has passed (nothing held)
local key, untilMs = ARGV[3], tonumber(ARGV[4])
if untilMs ~= -1 and untilMs <= now then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[3], key)
  unhold(key)
  return 0
end
local current = holdOf(key)
put(key, current and current[3] or now, untilMs, ARGV[5], tonumber(ARGV[6]))
return 1
