-- prelude: auth.lua
-- RelayGuard AUTH state: one failed login (AuthState.recordFailure), counted for its client and for its account,
-- each in a sliding interval; the failure that reaches a rule's count starts its block, and the failures up to it
-- are spent: they no longer count towards the next block (counting starts afresh), but still count as recent
-- failures (auth-success.lua); a client banned, or an account throttled, counts nothing more. Keys: see auth.lua.
-- KEYS[1] <P>c:<client>    KEYS[2] <P>bans       KEYS[3] <P>clients    KEYS[7] <P>cs:<client>  (when its failures were spent)
-- KEYS[4] <P>a:<account>   KEYS[5] <P>throttles  KEYS[6] <P>accounts   KEYS[8] <P>as:<account>
-- ARGV[3]  client; ARGV[4..8] its rule: failures kept (0: not counted), failures that block (0: never),
--          withinMillis, blockForMillis, maxTracked
-- ARGV[9]  account; ARGV[10..14] its rule, the same
-- Returns  {banEnd, throttleEnd}: when the ban / throttle this failure started ends (epoch millis), 0 for none

local function count(failures, blocks, index, kind, base, spent)
  local member = ARGV[base]
  local history = tonumber(ARGV[base + 1])
  local threshold = tonumber(ARGV[base + 2])
  local within = tonumber(ARGV[base + 3])
  local blockFor = tonumber(ARGV[base + 4])
  local maxTracked = tonumber(ARGV[base + 5])
  if history == 0 or blockEnd(blocks, member) then
    return 0
  end
  local n = 0 -- a distinct member for each failure of the same millisecond
  while redis.call('ZSCORE', failures, ms(now) .. ':' .. n) do
    n = n + 1
  end
  redis.call('ZADD', failures, ms(now), ms(now) .. ':' .. n)
  redis.call('ZREMRANGEBYRANK', failures, 0, -(history + 1))
  local ends = 0
  local mattersUntil = now + within
  local from = now - within
  local spentAt = tonumber(redis.call('GET', spent))
  if spentAt and spentAt > from then
    from = spentAt
  end
  if threshold > 0 and redis.call('ZCOUNT', failures, '(' .. ms(from), '+inf') >= threshold then
    redis.call('SET', spent, ms(now), 'PX', ms(math.max(1, within))) -- spent: after the block, counting starts again
    keepFor(failures, within)
    if blockFor > 0 then
      ends = now + blockFor
      redis.call('ZADD', blocks, ms(ends), member)
      mattersUntil = math.max(mattersUntil, ends)
    end
  else
    keepFor(failures, within)
  end
  redis.call('ZREMRANGEBYSCORE', blocks, '-inf', ms(now))
  keepUntilLast(blocks)
  track(index, member, mattersUntil, maxTracked, kind, blocks)
  return ends
end

local banEnd = count(KEYS[1], KEYS[2], KEYS[3], 'c:', 3, KEYS[7])
local throttleEnd = count(KEYS[4], KEYS[5], KEYS[6], 'a:', 9, KEYS[8])
return {banEnd, throttleEnd}
