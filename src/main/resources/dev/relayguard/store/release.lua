-- prelude: counters.lua
-- RelayGuard rate limits: give back what a ticket counted, where the counter still holds the ticket's sub-bucket
-- (an amount never goes below 0). Redis calls: HMGET, and HSET when something was given back.
-- KEYS[1]  relayguard:{<key>} (see counters.lua)
-- ARGV[1]  n, the number of entries; then n counter fields (<counterId>:t), n buckets, n amounts
-- Returns  how many entries were given back
local n = tonumber(ARGV[1])
local values = redis.call('HMGET', key, unpack(ARGV, 2, 1 + n))
local counters = {}
local released = 0
for i = 1, n do
  local id = ARGV[1 + i]
  local c = counters[id]
  if c == nil then
    c = counter(values[i])
  end
  local j = c and c[1] - tonumber(ARGV[1 + n + i])
  if j and j >= 0 and j <= SUB_BUCKETS then
    local left = math.max(0, c[3 + j] - tonumber(ARGV[1 + 2 * n + i]))
    c[2] = c[2] - (c[3 + j] - left)
    c[3 + j] = left
    counters[id] = c
    released = released + 1
  end
end
local args = {}
for id, c in pairs(counters) do
  args[#args + 1] = id
  args[#args + 1] = packed(c)
end
if #args > 0 then
  redis.call('HSET', key, unpack(args))
end
return released
