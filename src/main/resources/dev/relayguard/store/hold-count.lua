-- prelude: holds.lua
-- RelayGuard holds: how many keys are held and collecting hits, and how many holds were dropped.
-- KEYS[1] <P>held  KEYS[2] <P>tracked  KEYS[3] <P>dropped
-- Returns  {held, tracked (collecting hits, not held), dropped}
forgetEnded()
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), tonumber(redis.call('GET', KEYS[3]) or '0')}
