-- prelude: auth.lua
-- RelayGuard AUTH state: the blocks in force (read only).
-- KEYS[1] <P>bans or <P>throttles
-- Returns  {member_1, end_1, member_2, end_2, ...}, the soonest end first (epoch millis)
local flat = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ms(now), '+inf', 'WITHSCORES')
local result = {}
for i = 1, #flat, 2 do
  result[#result + 1] = flat[i]
  result[#result + 1] = tonumber(flat[i + 1])
end
return result
