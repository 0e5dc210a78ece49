-- prelude: decide.lua
-- RelayGuard rate limits: check every charge, then count all of them or none. KEYS and ARGV: see decide.lua.
-- Redis calls: TIME, HMGET, HSET; PEXPIRE only when the key's TTL gets short (once per longest window and key);
-- DEL once in a key's life (a key without x: new, or left by an older RelayGuard, whose counters start again).
-- Returns  {1, redisMillis, bucket_1, ..., bucket_n}           every charge fits and was counted
--          or what decide.lua returns (a refusal, or past the deadline): nothing counted
local ttl = 0
for i = 1, n do
  local id = ARGV[3 + i]
  local bucket = result[2 + i]
  local c = counters[id]
  if not c then
    c = {bucket, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
    counters[id] = c
  elseif c[1] < bucket then
    local shift = bucket - c[1]
    for j = SUB_BUCKETS, 0, -1 do
      c[2 + j] = j >= shift and c[2 + j - shift] or 0
    end
    c[1] = bucket
  end
  c[2] = c[2] + tonumber(ARGV[AMOUNTS + i])
  -- A sub-bucket counts for SLOTS widths after it starts: the key must live that long after now.
  ttl = math.max(ttl, SLOTS * width(tonumber(ARGV[WINDOWS + i])))
end
local args = {}
for id, c in pairs(counters) do -- every counter here was charged
  args[#args + 1] = id
  args[#args + 1] = packed(c)
end
-- Idle keys disappear; the TTL is extended (to twice what is needed) only when less than needed is left, and never shortened.
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
