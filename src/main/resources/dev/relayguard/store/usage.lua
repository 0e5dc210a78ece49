-- prelude: clock.lua counters.lua
-- RelayGuard rate limits: how much each counter holds in its window right now (read only). Redis calls: TIME, HMGET.
-- KEYS[1]  relayguard:{<key>} (see counters.lua)
-- ARGV[1]  "" (use the Redis clock) or a time in epoch millis (tests only)
-- ARGV[2]  "" (unused)
-- ARGV[3]  n, the number of limits; then n counter fields (<counterId>:t), n windowMillis
-- Returns  {used_1, ..., used_n}
local n = tonumber(ARGV[3])
local values = redis.call('HMGET', key, unpack(ARGV, 4, 3 + n))
local result = {}
for i = 1, n do
  local _, sum = counted(values[i], math.floor(now / width(tonumber(ARGV[3 + n + i]))))
  result[i] = sum
end
return result
