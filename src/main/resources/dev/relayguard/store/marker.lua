-- RelayGuard: the marker that tells whether Redis lost every counter behind our back (FLUSHALL, FLUSHDB, a
-- restart or fail-over of a Redis without persistence). The marker never expires; while it holds the same
-- value, no reset happened. Every James node remembers the value it saw last: a new value is a reset.
-- KEYS[1]  relayguard:marker
-- ARGV[1]  the value to create the marker with when it is missing (random, from the caller)
-- Returns  {1, value} the marker was missing and is now created; {0, value} it was there
local value = redis.call('GET', KEYS[1])
if value then
  return {0, value}
end
redis.call('SET', KEYS[1], ARGV[1])
return {1, ARGV[1]}
