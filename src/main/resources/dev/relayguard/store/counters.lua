-- RelayGuard rate limits: the layout of the counters of a key (dev.relayguard.limit.SlidingWindow), shared by
-- decide.lua, usage.lua and release.lua. Not a script on its own: RedisScript puts it in front of the script whose
-- prelude names it.
-- KEYS[1]  relayguard:{<key>}, a hash:
--            <counterId>  one field per counter (e.g. m60000: messages per minute), its SLOTS sub-buckets packed
--                         in one value (struct '<dI5...', 63 bytes, so the hash stays a compact listpack):
--                         B, the newest sub-bucket index written, then the amounts counted in B, B-1, ..., B-10
--            x            when the key expires, epoch millis on the Redis clock (the TTL is extended only when it
--                         gets short, without reading PTTL); a key without x is from before this layout
-- A counter as a Lua table: {B, n(B), n(B-1), ..., n(B-10)}; nil when the key has none.
-- Amounts fit 5 bytes: a slot never holds more than a limit allows (at most 2^31 - 1) plus one decision's charges.
local SUB_BUCKETS = 10
local SLOTS = SUB_BUCKETS + 1
local PACKED = '<dI5I5I5I5I5I5I5I5I5I5I5'
local key = KEYS[1]

-- The sub-bucket width of a window (SlidingWindow.width).
local function width(window)
  return math.max(1, math.floor((window + SUB_BUCKETS - 1) / SUB_BUCKETS))
end

local function counter(value)
  if value then
    return {struct.unpack(PACKED, value)}
  end
  return nil
end

local function packed(c)
  return struct.pack(PACKED, c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12])
end

-- What c counts at sub-bucket `bucket` (never before its newest: a clock that steps back counts from there).
local function used(c, bucket)
  if not c then
    return 0
  end
  local sum = 0
  for j = 0, SUB_BUCKETS - math.max(0, bucket - c[1]) do
    sum = sum + c[2 + j]
  end
  return sum
end
