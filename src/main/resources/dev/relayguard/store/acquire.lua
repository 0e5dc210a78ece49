-- prelude: unchanged.lua decide.lua
-- RelayGuard rate limits: check every charge, then count all of them or none. KEYS and ARGV: see decide.lua, and
-- unchanged.lua for the node's precomputed write that may follow them.
-- Redis calls: TIME, HMGET, HSET (the precomputed write too; one HMGET more when it was not applied); here also PEXPIRE only when the key's TTL gets short
-- (once per longest window and key); DEL once in a key's life (a key without x: new, or left by an older
-- RelayGuard, whose counters start again).
-- Returns  {1, redisMillis, bucket_1, ..., bucket_n, x, value_1, ..., value_n}
--                    every charge fits and was counted: the sub-buckets counted in, when the key expires now (epoch
--                    millis, field x) and each counter's packed value now (what the node's next precomputed write
--                    may assume)
--          or what unchanged.lua returns (past the deadline, or the precomputed write applied), or what decide.lua
--          returns (a refusal): nothing counted
local written = {} -- by field: the new packed value (a field charged twice in one list counts both)
for i = 1, n do
  local field = ARGV[3 + i]
  written[field] = charged(written[field] or values[1 + i], result[2 + i], tonumber(ARGV[AMOUNTS + i]))
end
local args = {}
for field, value in pairs(written) do
  args[#args + 1] = field
  args[#args + 1] = value
end
-- Idle keys disappear; the TTL is extended (to twice what is needed) only when less than needed is left, and never shortened.
local expiresAt = tonumber(values[1])
local extend = expiresAt == nil or expiresAt < redisNow + ttl
if extend then
  if expiresAt == nil then
    redis.call('DEL', key)
  end
  expiresAt = redisNow + 2 * ttl
  args[#args + 1] = 'x'
  args[#args + 1] = ms(expiresAt)
end
redis.call('HSET', key, unpack(args))
if extend then
  redis.call('PEXPIRE', key, ms(2 * ttl))
end
result[3 + n] = expiresAt
for i = 1, n do
  result[3 + n + i] = written[ARGV[3 + i]]
end
return result
