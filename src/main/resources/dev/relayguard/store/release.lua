-- RelayGuard rate limits: give back what a ticket counted, slot by slot, where the slot still holds the
-- ticket's sub-bucket (an amount never goes below 0).
-- KEYS[1]  relayguard:{<key>} (see acquire.lua)
-- ARGV[1]  number of entries; then per entry: counterId, bucket, amount
-- Returns  how many entries were given back
local SLOTS = 11
local key = KEYS[1]
local count = tonumber(ARGV[1])
local released = 0
for i = 1, count do
  local base = 1 + (i - 1) * 3
  local id = ARGV[base + 1]
  local bucket = tonumber(ARGV[base + 2])
  local amount = tonumber(ARGV[base + 3])
  local s = bucket % SLOTS
  local fb = id .. ':' .. s .. ':b'
  local fn = id .. ':' .. s .. ':n'
  if tonumber(redis.call('HGET', key, fb)) == bucket then
    local n = tonumber(redis.call('HGET', key, fn)) or 0
    redis.call('HSET', key, fn, string.format('%.0f', math.max(0, n - amount)))
    released = released + 1
  end
end
return released
