-- RelayGuard rate limits, the decision shared by acquire.lua and estimate.lua (dev.relayguard.limit.SlidingWindow):
-- reads the charged counters and returns the refusal, if any; the script it is the prelude of goes on when every
-- charge fits. Not a script on its own: RedisScript puts it in front of a script whose first line names it.
-- KEYS[1]  relayguard:{<key>}: a hash with, per counter id and slot s (0..10), "<counterId>:<s>:b" (the
--          sub-bucket index the slot holds) and "<counterId>:<s>:n" (the amount counted in it).
-- ARGV[1]  "" (use the Redis clock: TIME, shared by all James nodes) or a time in epoch millis (tests only)
-- ARGV[2]  the deadline in epoch millis on the Redis clock (TIME, whatever ARGV[1] says), or "" for none: a
--          script that starts after it (the client gave up waiting, e.g. Redis was paused with the call already
--          in its socket) counts nothing
-- ARGV[3]  number of charges; then per charge: counterId, windowMillis, max, amount
-- Returns  {0, redisMillis, index, retryAfterMillis, never}     nothing counted; index (1-based) names the refusing charge
--          {-1, redisMillis}                                    past the deadline: nothing read, nothing counted
--          redisMillis is TIME when the script started (the client keeps its offset to its own clock)
-- Numbers are Lua doubles: every value here is an integer below 2^53 (epoch millis, bucket indices, amounts).
if redis.replicate_commands then
  pcall(redis.replicate_commands) -- Redis < 5: replicate the writes, not the script (it reads TIME)
end
local SUB_BUCKETS = 10
local SLOTS = SUB_BUCKETS + 1
local key = KEYS[1]
local t = redis.call('TIME')
local redisNow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[2] ~= '' and redisNow > tonumber(ARGV[2]) then
  return {-1, redisNow}
end
local now = redisNow
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
end
local count = tonumber(ARGV[3])

-- Read only the slots of the counters charged here (HMGET), not the whole hash.
local names = {}
local seen = {}
for i = 1, count do
  local id = ARGV[3 + (i - 1) * 4 + 1]
  if not seen[id] then
    seen[id] = true
    for s = 0, SLOTS - 1 do
      names[#names + 1] = id .. ':' .. s .. ':b'
      names[#names + 1] = id .. ':' .. s .. ':n'
    end
  end
end
local hash = {}
local values = redis.call('HMGET', key, unpack(names))
for j = 1, #names do
  if values[j] then
    hash[names[j]] = tonumber(values[j])
  end
end

local function width(window)
  return math.max(1, math.floor((window + SUB_BUCKETS - 1) / SUB_BUCKETS))
end

local charges = {}
local refusedIndex, refusedRetry = nil, nil
for i = 1, count do
  local base = 3 + (i - 1) * 4
  local c = {
    id = ARGV[base + 1],
    window = tonumber(ARGV[base + 2]),
    max = tonumber(ARGV[base + 3]),
    amount = tonumber(ARGV[base + 4])
  }
  c.width = width(c.window)
  c.bucket = math.floor(now / c.width)
  charges[i] = c
  if c.amount > c.max then
    return {0, redisNow, i, c.window, 1}
  end
  local used = 0
  for s = 0, SLOTS - 1 do
    local b = hash[c.id .. ':' .. s .. ':b']
    if b ~= nil and b <= c.bucket and b > c.bucket - SLOTS then
      used = used + (hash[c.id .. ':' .. s .. ':n'] or 0)
    end
  end
  if used + c.amount > c.max then
    -- SlidingWindow.retryAfterMillis: when the oldest counted sub-buckets free enough room
    local needed = used + c.amount - c.max
    local freed = 0
    local retry = nil
    for b = c.bucket - SUB_BUCKETS, c.bucket do
      local s = b % SLOTS
      local n = hash[c.id .. ':' .. s .. ':n'] or 0
      if hash[c.id .. ':' .. s .. ':b'] == b and n > 0 then
        freed = freed + n
      end
      if freed >= needed then
        retry = (b + SLOTS) * c.width - now
        break
      end
    end
    if retry == nil then
      retry = (c.bucket + SLOTS) * c.width - now
    end
    if refusedIndex == nil or retry > refusedRetry then
      refusedIndex, refusedRetry = i, retry
    end
  end
end
if refusedIndex ~= nil then
  return {0, redisNow, refusedIndex, math.max(0, refusedRetry), 0}
end

