-- prelude: clock.lua decide.lua
-- RelayGuard rate limits: what acquire.lua would answer now, read only (LimiterStore.estimate). KEYS and ARGV:
-- see decide.lua (ARGV[2] "": no deadline, nothing is written anyway). Redis calls: TIME, HMGET.
-- Returns  {1, redisMillis, bucket_1, ..., bucket_n}   every charge fits (nothing counted)
--          or what decide.lua returns (a refusal)
return result
