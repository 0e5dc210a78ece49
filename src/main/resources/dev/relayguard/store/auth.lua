-- prelude: clock.lua
-- RelayGuard AUTH state (store.RedisAuthState), the lines every auth-*.lua script starts with: the clock and the
-- helpers. Not a script on its own: RedisScript puts it in front of a script whose first line names it.
-- Every key carries the one hash tag {auth}, so that all the keys of a script sit in one Redis Cluster slot
-- (<P> is relayguard:auth:{auth}:):
--   <P>c:<client>    sorted set: the client's recent failed logins (score: epoch millis; the most recent kept)
--   <P>a:<account>   sorted set: the account's recent failed logins
--   <P>cs:<client>, <P>as:<account>   string: when the failures up to it were spent by a block (they count towards no
--                    further block, but are still recent); expires after the rule's interval
--   <P>k:<account>   sorted set: the account's known clients (score: their last successful login)
--   <P>bans          sorted set: the AUTH bans of clients (member: client, score: when the ban ends)
--   <P>throttles     sorted set: the throttles of accounts (member: account, score: when the throttle ends)
--   <P>clients, <P>accounts, <P>known   sorted sets: the tracked clients, failing accounts and accounts with known
--                    clients (score: until when they matter), each bounded (those that matter the shortest go first)
-- Every key expires (PEXPIRE) when nothing in it matters any more.
-- ARGV[1]  "" (use the Redis clock: TIME, shared by all James nodes) or a time in epoch millis (tests only)
-- ARGV[2]  <P>
-- Numbers are Lua doubles: every value here is an integer below 2^53; ms() writes one without an exponent.

-- Keeps a key at least millis longer (never shortens its TTL).
local function keepFor(key, millis)
  local pttl = redis.call('PTTL', key)
  if pttl == -1 or (pttl >= 0 and pttl < millis) then
    redis.call('PEXPIRE', key, ms(math.max(1, millis)))
  end
end

-- Keeps a sorted set whose scores are end times as long as its last end.
local function keepUntilLast(key)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then
    keepFor(key, tonumber(last[2]) - now)
  end
end

-- The end of the block of member in a blocks set (bans, throttles), or nil when it is not blocked now.
local function blockEnd(blocks, member)
  local ends = tonumber(redis.call('ZSCORE', blocks, member))
  if ends and ends > now then
    return ends
  end
  return nil
end

-- Notes in a tracked set that member matters until mattersUntil; drops those that no longer matter; above
-- maxTracked members, forgets those that matter the shortest (never member itself): their key <P><kind><member>
-- and their block in blocks (nil: none).
local function track(index, member, mattersUntil, maxTracked, kind, blocks)
  local score = tonumber(redis.call('ZSCORE', index, member))
  if score == nil or score < mattersUntil then
    score = mattersUntil
  end
  redis.call('ZREM', index, member)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', ms(now))
  local excess = redis.call('ZCARD', index) - (maxTracked - 1)
  if excess > 0 then
    for _, evicted in ipairs(redis.call('ZRANGE', index, 0, excess - 1)) do
      redis.call('DEL', P .. kind .. evicted, P .. string.sub(kind, 1, 1) .. 's:' .. evicted)
      if blocks then
        redis.call('ZREM', blocks, evicted)
      end
    end
    redis.call('ZREMRANGEBYRANK', index, 0, excess - 1)
  end
  redis.call('ZADD', index, ms(score), member)
  keepUntilLast(index)
end
