-- prelude: holds.lua
-- RelayGuard holds: the holds in force, soonest end first (holds that ended are forgotten on the way).
-- KEYS[1] <P>held  KEYS[2] <P>tracked
-- Returns  {key_1, until_1, reason_1, since_1, key_2, ...} (until: epoch millis, -1 until lifted; since: epoch millis,
--          -1 unknown)
forgetEnded()
local result = {}
for _, key in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local hold = holdOf(key)
  if hold then
    result[#result + 1] = key
    result[#result + 1] = ms(hold[1])
    result[#result + 1] = hold[2]
    result[#result + 1] = ms(hold[3])
  end
end
return result
