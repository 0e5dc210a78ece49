-- prelude: clock.lua hold-read.lua
-- RelayGuard holds (store.RedisHolds): probe bans and senders' suspensions, shared by every James node. The lines
-- every hold-*.lua script starts with: the clock and the helpers. Not a script on its own: RedisScript puts it in
-- front of a script whose first line names it.
-- One table of holds per hash tag (<P> is relayguard:hold:{ban}: or relayguard:hold:{suspension}:), so that all the
-- keys of a script sit in one Redis Cluster slot:
--   <P>k:<key>    string "<until>|<reason>": the hold of a key (until: epoch millis, -1 until lifted); it expires
--                 (PEXPIREAT) when the hold ends
--   <P>h:<key>    list: the key's recent hits (epoch millis, newest first, at most `hits`); expires after `within`
--   <P>s:<key>    string "<since>|<until>": when the hold of a key started (epoch millis), valid while the hold in
--                 force has that end (a hold set by an earlier RelayGuard, which kept no start, has no valid one: its
--                 start is unknown, -1); expires and goes with its hold (no command the README's ACL lacks)
--   <P>held       sorted set: the keys held (score: the end, +inf until lifted), for listing and counting
--   <P>tracked    sorted set: the keys collecting hits (score: until when their hits matter), bounded
--   <P>dropped    integer: holds dropped early because more than maxHeld were in force at once
-- ARGV[1]  "" (use the Redis clock: TIME, shared by all James nodes) or a time in epoch millis (tests only)
-- ARGV[2]  <P>

-- The hold of a key in force now, as {until, reason, since} (until -1: until lifted; since -1: unknown), or nil.
local function holdOf(key)
  return holdAt(P .. 'k:' .. key, P .. 's:' .. key)
end

-- Forgets that a key is held: its value, its place in <P>held, its start.
local function unhold(key)
  redis.call('DEL', P .. 'k:' .. key, P .. 's:' .. key)
  redis.call('ZREM', P .. 'held', key)
end

-- Forgets the holds that ended.
local function forgetEnded()
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', P .. 'held', '-inf', ms(now))) do
    redis.call('DEL', P .. 'k:' .. key, P .. 's:' .. key)
  end
  redis.call('ZREMRANGEBYSCORE', P .. 'held', '-inf', ms(now))
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', P .. 'tracked', '-inf', ms(now))) do
    redis.call('DEL', P .. 'h:' .. key)
  end
  redis.call('ZREMRANGEBYSCORE', P .. 'tracked', '-inf', ms(now))
end

-- Holds a key from sinceMs (-1: unknown) until untilMs (-1: until lifted) and keeps at most maxHeld holds: the others
-- ending soonest are dropped first (counted in <P>dropped); the hold being put always stays.
local function put(key, sinceMs, untilMs, reason, maxHeld)
  redis.call('DEL', P .. 'h:' .. key)
  redis.call('ZREM', P .. 'tracked', key)
  local k = P .. 'k:' .. key
  local s = P .. 's:' .. key
  redis.call('SET', k, ms(untilMs) .. '|' .. reason)
  if sinceMs ~= -1 then
    redis.call('SET', s, ms(sinceMs) .. '|' .. ms(untilMs))
  else
    redis.call('DEL', s)
  end
  if untilMs ~= -1 then
    redis.call('PEXPIREAT', k, ms(untilMs))
    if sinceMs ~= -1 then
      redis.call('PEXPIREAT', s, ms(untilMs))
    end
    redis.call('ZADD', P .. 'held', ms(untilMs), key)
  else
    redis.call('ZADD', P .. 'held', '+inf', key)
  end
  forgetEnded()
  local extra = redis.call('ZCARD', P .. 'held') - maxHeld
  if extra > 0 then
    local dropped = 0
    for _, other in ipairs(redis.call('ZRANGE', P .. 'held', 0, extra)) do
      if other ~= key and dropped < extra then
        unhold(other)
        dropped = dropped + 1
      end
    end
    redis.call('INCRBY', P .. 'dropped', dropped)
  end
end
