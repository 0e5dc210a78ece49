-- prelude: counters.lua
-- RelayGuard rate limits, the decision shared by acquire.lua and estimate.lua (dev.relayguard.limit.SlidingWindow):
-- reads the charged counters (one HMGET) and returns the refusal, if any; the script it is the prelude of goes on
-- when every charge fits. Not a script on its own: RedisScript puts it in front of the script whose prelude names it,
-- after clock.lua (estimate.lua) or unchanged.lua (acquire.lua, which checks the deadline first).
-- KEYS[1]  relayguard:{<key>} (see counters.lua)
-- ARGV[1]  "" (use the Redis clock: TIME, shared by all James nodes) or a time in epoch millis (tests only)
-- ARGV[2]  the deadline in epoch millis on the Redis clock (TIME, whatever ARGV[1] says), or "" for none: a
--          script that starts after it (the client gave up waiting, e.g. Redis was paused with the call already
--          in its socket) counts nothing (checked by unchanged.lua; estimate.lua counts nothing anyway)
-- ARGV[3]  n, the number of charges; then n counter fields (<counterId>:t), n windowMillis, n max, n amounts
-- Returns  {0, redisMillis, index, retryAfterMillis, never}     nothing counted; index (1-based) names the refusing charge
--          redisMillis is TIME when the script started (the client keeps its offset to its own clock)
-- Leaves   result = {1, redisMillis, bucket_1, ..., bucket_n}, values (the HMGET reply: field x, then the n counters
--          as packed, false when none), ttl (how long the key must live after now for its longest window), n and the
--          ARGV offsets for acquire.lua
local n = tonumber(ARGV[3])
local WINDOWS, MAXES, AMOUNTS = 3 + n, 3 + 2 * n, 3 + 3 * n
local values = redis.call('HMGET', key, 'x', unpack(ARGV, 4, 3 + n))
local result = {1, redisNow}
local ttl = 0
local refusedIndex, refusedRetry = nil, nil
for i = 1, n do
  local window = tonumber(ARGV[WINDOWS + i])
  local max = tonumber(ARGV[MAXES + i])
  local amount = tonumber(ARGV[AMOUNTS + i])
  if amount > max then
    return {0, redisNow, i, window, 1}
  end
  local w = width(window)
  -- A sub-bucket counts for SLOTS widths after it starts: the key must live that long after now.
  if SLOTS * w > ttl then
    ttl = SLOTS * w
  end
  local value = values[1 + i]
  local bucket, sum = counted(value, math.floor(now / w))
  result[2 + i] = bucket
  if sum + amount > max then
    -- SlidingWindow.retryAfterMillis: when the oldest counted sub-buckets free enough room
    local c = counter(value)
    local needed = sum + amount - max
    local freed = 0
    local retry = (bucket + SLOTS) * w - now
    for b = bucket - SUB_BUCKETS, bucket do
      local j = c[1] - b
      if j >= 0 and j <= SUB_BUCKETS then
        freed = freed + c[3 + j]
      end
      if freed >= needed then
        retry = (b + SLOTS) * w - now
        break
      end
    end
    if refusedIndex == nil or retry > refusedRetry then
      refusedIndex, refusedRetry = i, retry
    end
  end
end
if refusedIndex ~= nil then
  return {0, redisNow, refusedIndex, math.max(0, refusedRetry), 0}
end
