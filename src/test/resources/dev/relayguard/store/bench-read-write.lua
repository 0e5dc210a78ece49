-- RedisLimiterBenchmark's third anchor: the cheapest read-modify-write any Lua design of the limiter could make, one GET
-- and one SET (with PX) of a string as long as acquire.lua's two packed counters and TTL field (130 bytes), no TIME
-- (the clock would come from the James node) and no decision: the floor of a redesign that keeps every counter of a
-- key in one string and gives up the Redis clock. Same KEYS and ARGV as acquire.lua.
local value = redis.call('GET', KEYS[1])
local packed = '0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789'
redis.call('SET', KEYS[1], packed, 'PX', 120000)
return {1, value and 1 or 0, 0, 0}
