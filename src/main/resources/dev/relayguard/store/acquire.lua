-- prelude: decide.lua
-- RelayGuard rate limits: check every charge, then count all of them or none. KEYS and ARGV: see decide.lua.
-- Redis calls: TIME, HMGET, HSET; PEXPIRE only when the key's TTL gets short (once per longest window and key);
-- DEL once in a key's life (a key without x: new, or left by an older RelayGuard, whose counters start again).
-- Returns  {1, redisMillis, bucket_1, ..., bucket_n}           every charge fits and was counted
--          or what decide.lua returns (a refusal, or past the deadline): nothing counted
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
  args[#args + 1] = 'x'
  args[#args + 1] = ms(redisNow + 2 * ttl)
end
redis.call('HSET', key, unpack(args))
if extend then
  redis.call('PEXPIRE', key, ms(2 * ttl))
end
return result
