-- RelayGuard rate limits: how much each counter holds in its window right now (read only).
-- KEYS[1]  relayguard:{<key>} (see acquire.lua)
-- ARGV[1]  "" (use the Redis clock) or a time in epoch millis (tests only)
-- ARGV[2]  number of limits; then per limit: counterId, windowMillis
-- Returns  {used_1, ..., used_n}
local SUB_BUCKETS = 10
local SLOTS = SUB_BUCKETS + 1
local key = KEYS[1]
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local count = tonumber(ARGV[2])
local hash = {}
local flat = redis.call('HGETALL', key)
for i = 1, #flat, 2 do
  hash[flat[i]] = tonumber(flat[i + 1])
end
local result = {}
for i = 1, count do
  local id = ARGV[2 + (i - 1) * 2 + 1]
  local window = tonumber(ARGV[2 + (i - 1) * 2 + 2])
  local width = math.max(1, math.floor((window + SUB_BUCKETS - 1) / SUB_BUCKETS))
  local current = math.floor(now / width)
  local used = 0
  for s = 0, SLOTS - 1 do
    local b = hash[id .. ':' .. s .. ':b']
    if b ~= nil and b <= current and b > current - SLOTS then
      used = used + (hash[id .. ':' .. s .. ':n'] or 0)
    end
  end
  result[i] = used
end
return result
