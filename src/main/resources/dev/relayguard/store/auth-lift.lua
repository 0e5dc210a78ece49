-- prelude: auth.lua
-- RelayGuard AUTH state: lifts the block of a client or account and forgets its failures.
-- KEYS[1] <P>bans or <P>throttles   KEYS[2] <P>c:<client> or <P>a:<account>   KEYS[3] <P>clients or <P>accounts
-- KEYS[4] <P>cs:<client> or <P>as:<account> (when its failures were last spent)
-- ARGV[3] the client or account
-- Returns  1 when it was blocked, else 0
local wasBlocked = blockEnd(KEYS[1], ARGV[3]) and 1 or 0
redis.call('ZREM', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[2], KEYS[4])
redis.call('ZREM', KEYS[3], ARGV[3])
return wasBlocked
