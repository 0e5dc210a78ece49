-- prelude: auth.lua
-- RelayGuard AUTH state: the block of one client or account (read only).
-- KEYS[1] <P>bans or <P>throttles   ARGV[3] the client or account
-- Returns  when its block ends (epoch millis), or 0 when it is not blocked
return blockEnd(KEYS[1], ARGV[3]) or 0
