-- prelude: decide.lua
-- RelayGuard rate limits: check every charge, then count all of them or none. KEYS and ARGV: see decide.lua.
-- Returns  {1, redisMillis, bucket_1, ..., bucket_n}           every charge fits and was counted
--          or what decide.lua returns (a refusal, or past the deadline): nothing counted
local result = {1, redisNow}
local writes = {}
local touched = {}
local ttl = 0
for i = 1, count do
  local c = charges[i]
  local s = c.bucket % SLOTS
  local fb = c.id .. ':' .. s .. ':b'
  local fn = c.id .. ':' .. s .. ':n'
  if hash[fb] ~= c.bucket then
    hash[fb] = c.bucket
    hash[fn] = 0
  end
  hash[fn] = (hash[fn] or 0) + c.amount
  if not touched[fb] then
    touched[fb] = true
    writes[#writes + 1] = fb
    writes[#writes + 1] = fn
  end
  ttl = math.max(ttl, (c.window + c.width) * 2)
  result[#result + 1] = c.bucket
end
local args = {}
for j = 1, #writes do
  args[#args + 1] = writes[j]
  args[#args + 1] = string.format('%.0f', hash[writes[j]])
end
redis.call('HSET', key, unpack(args))
-- Idle keys disappear: keep the key while its longest counter can still count; never shorten a TTL.
local pttl = redis.call('PTTL', key)
if pttl < ttl then
  redis.call('PEXPIRE', key, string.format('%.0f', ttl))
end
return result
