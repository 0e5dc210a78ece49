-- prelude: holds.lua
-- RelayGuard holds: lifts the hold of a key and forgets its hits.
-- KEYS[1] <P>k:<key>  KEYS[2] <P>h:<key>  KEYS[3] <P>tracked  KEYS[4] <P>held   ARGV[3] key
-- Returns  1 when it was held, else 0
local wasHeld = holdOf(ARGV[3]) and 1 or 0
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[3])
unhold(ARGV[3])
return wasHeld
