-- RelayGuard rate limits: the layout of the counters of a key (dev.relayguard.limit.SlidingWindow), shared by
-- decide.lua, usage.lua and release.lua. Not a script on its own: RedisScript puts it in front of the script whose
-- prelude names it.
-- KEYS[1]  relayguard:{<key>}, a hash:
--            <counterId>:t  one field per counter (e.g. m60000:t: messages per minute; RedisLimiterStore.field), its
--                           SLOTS sub-buckets and their running total packed in one value (struct '<dI4I4...', 56
--                           bytes: under Redis's default hash-max-listpack-value of 64, so the hash stays a compact
--                           listpack): B, the newest sub-bucket index written; the total of the 11 amounts; then the
--                           amounts counted in B, B-1, ..., B-10
--            x              when the key expires, epoch millis on the Redis clock (the TTL is extended only when it
--                           gets short, without reading PTTL); a key without x is from before the packed layouts (two
--                           fields per sub-bucket)
--          The total lets a decision in the newest sub-bucket (most of them) read 12 bytes and repack 16, without
--          unpacking, summing or shifting the 11 amounts (the value is still written whole). Fields of the packed
--          layout before it (<counterId>, 63 bytes, no total) are never read: a node upgraded mid-window counts
--          from zero.
-- A counter as a Lua table: {B, total, n(B), n(B-1), ..., n(B-10)}; nil when the key has none.
-- Amounts fit 4 unsigned bytes: a slot, and the total, never hold more than a limit allows (at most 2^31 - 1) plus
-- one more charge of at most that (two charges on one counter in one list, each checked alone: LimitSet never
-- makes such lists), below 2^32.
local SUB_BUCKETS = 10
local SLOTS = SUB_BUCKETS + 1
local PACKED = '<dI4I4I4I4I4I4I4I4I4I4I4I4'
local HEAD = '<dI4I4' -- B, the total, n(B): the first 16 bytes
local REST = 17 -- where the amounts before n(B) start
local key = KEYS[1]
local unpackStruct, packStruct = struct.unpack, struct.pack

-- The sub-bucket width of a window (SlidingWindow.width).
local function width(window)
  return math.max(1, math.floor((window + SUB_BUCKETS - 1) / SUB_BUCKETS))
end

local function counter(value)
  if value then
    return {unpackStruct(PACKED, value)}
  end
  return nil
end

local function packed(c)
  return packStruct(PACKED, c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13])
end

-- The sub-bucket a decision at `bucket` counts in (never before the newest written: a clock that steps back
-- counts from there), and what the counter packed in `value` (false or nil: none) counts there.
local function counted(value, bucket)
  if not value then
    return bucket, 0
  end
  local newest, total = unpackStruct('<dI4', value)
  if bucket <= newest then
    return newest, total
  end
  local gone = bucket - newest
  if gone > SUB_BUCKETS then
    return bucket, 0
  end
  local c = counter(value)
  local sum = 0
  for j = 3, SLOTS + 2 - gone do
    sum = sum + c[j]
  end
  return bucket, sum
end

-- The packed value of the counter packed in `value` (false or nil: none) once `amount` is counted at `bucket` (as
-- counted() returned it: never before the newest written).
local function charged(value, bucket, amount)
  if not value then
    return packStruct(PACKED, bucket, amount, amount, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
  end
  local newest, total, latest = unpackStruct(HEAD, value)
  if bucket <= newest then
    return packStruct(HEAD, newest, total + amount, latest + amount) .. string.sub(value, REST)
  end
  local c = counter(value)
  local shift = bucket - newest
  local sum = amount
  for j = SLOTS + 2, 3, -1 do
    local n = 0
    if j - shift >= 3 then
      n = c[j - shift]
    end
    c[j] = n
    sum = sum + n
  end
  c[1], c[2], c[3] = bucket, sum, c[3] + amount
  return packed(c)
end
