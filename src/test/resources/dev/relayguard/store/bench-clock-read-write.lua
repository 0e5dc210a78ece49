-- RedisLimiterBenchmark's second anchor: the three redis.calls that acquire.lua makes (TIME, HMGET of the TTL field
-- and the two counters, HSET of the two counters with values as long as acquire.lua's packed ones, 56 bytes), with
-- no decision between them: what any script that reads the clock of Redis and reads and writes a key's counters
-- costs at the least. Same KEYS and ARGV as acquire.lua (ARGV[4], ARGV[5]: the two counters' fields, <counterId>:t; the
-- values written are dummies, so never run it on a key whose counters acquire.lua uses in the same trial).
local t = redis.call('TIME')
local values = redis.call('HMGET', KEYS[1], 'x', ARGV[4], ARGV[5])
local packed = '01234567890123456789012345678901234567890123456789012345'
redis.call('HSET', KEYS[1], ARGV[4], packed, ARGV[5], packed)
return {1, tonumber(t[1]), 0, 0}
