-- prelude: auth.lua
-- RelayGuard AUTH state: how many subjects are tracked (read only).
-- KEYS     one or more tracked sets (<P>clients; <P>accounts and <P>known)
-- Returns  the largest count among them of the members that still matter
local largest = 0
for _, index in ipairs(KEYS) do
  largest = math.max(largest, redis.call('ZCOUNT', index, '(' .. ms(now), '+inf'))
end
return largest
