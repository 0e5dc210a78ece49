-- prelude: clock.lua hold-read.lua
-- RelayGuard rate limits: the start of acquire.lua. The deadline; then, when the James node sent the write it
-- computed (RedisLimiterStore: from the counters as its last decision on this key left them), that write alone,
-- applied only if the counters are still exactly those values and the clock is where the node computed it for: the
-- same counters and the same sub-buckets give the same decision and the same values as decide.lua and acquire.lua
-- (counters.lua's layout and rule, in Java), without running them. Anything else (another node counted, a ticket
-- was given back, the key expired, was reset or must live longer, the clock moved on) goes on to decide.lua: the full
-- decision, in the same call (which reads the counters again). Not a script on its own: RedisScript puts it in front of the script whose prelude names it.
-- KEYS[1]  relayguard:{<key>} (see counters.lua)
-- ARGV     decide.lua's (1 to 3 + 4n), then optionally the node's precomputed write:
--          validFrom ("": none), validUntil  the decision clock (`now`, clock.lua) must be in [validFrom, validUntil):
--                                            the sub-buckets the node counted in are the ones decide.lua would use
--          need                             how long the key must live after the Redis clock for the charged
--                                            counters (SLOTS sub-bucket widths of the longest window): the write is
--                                            applied only when x (read here, never the node's memory of it: a key
--                                            reset and made again has a nearer x) is at least that far ahead
--          n expected values               the counters' packed values the write assumes, in ARGV[4..3+n]'s order
--          2n field, value                 the HSET of the new packed values
-- KEYS[2], KEYS[3]  optional (the message charge at MAIL, standalone Redis only): the sender's suspension in the
--          suspensions' table, <P>k:<key> and <P>s:<key> (holds.lua); while it holds, nothing is read or counted
-- Returns  {-1, redisMillis}  past the deadline: nothing read, nothing counted (ARGV[2], as decide.lua documents it)
--          {3, redisMillis, until, reason, since}  the sender is suspended (KEYS[2]): nothing counted; the hold as
--                             hold-read.lua's holdAt reads it (until -1: until lifted; since -1: unknown)
--          {2, redisMillis}   the precomputed write was applied: every charge admitted and counted, in the
--                             sub-buckets the node computed
--          otherwise goes on (decide.lua, then acquire.lua)
if ARGV[2] ~= '' and redisNow > tonumber(ARGV[2]) then
  return {-1, redisNow}
end
if KEYS[2] then
  local hold = holdAt(KEYS[2], KEYS[3])
  if hold then
    return {3, redisNow, hold[1], hold[2], hold[3]}
  end
end
local count = tonumber(ARGV[3])
local FROM = 4 + 4 * count
if ARGV[FROM] ~= nil and (ARGV[FROM] == '' or now >= tonumber(ARGV[FROM])) and now < tonumber(ARGV[FROM + 1]) then
  local current = redis.call('HMGET', KEYS[1], 'x', unpack(ARGV, 4, 3 + count))
  local expiresAt = tonumber(current[1])
  local unchanged = expiresAt ~= nil and expiresAt >= redisNow + tonumber(ARGV[FROM + 2])
  for i = 1, count do
    if not unchanged or current[1 + i] ~= ARGV[FROM + 2 + i] then
      unchanged = false
      break
    end
  end
  if unchanged then
    redis.call('HSET', KEYS[1], unpack(ARGV, FROM + 3 + count, FROM + 2 + 3 * count))
    return {2, redisNow}
  end
end
