-- prelude: auth.lua
-- RelayGuard AUTH state: one successful login (AuthState.recordSuccess): the client becomes known for the account
-- (the most recent clients kept, each for rememberFor after its last success). Keys: see auth.lua.
-- KEYS[1] <P>k:<account>   KEYS[2] <P>known   KEYS[3] <P>a:<account>
-- ARGV[3]  account   ARGV[4] client   ARGV[5] rememberForMillis   ARGV[6] known clients per account
-- ARGV[7]  maxTrackedAccounts   ARGV[8] the account rule's withinMillis   ARGV[9] failures kept per account
-- Returns  {wasKnown (1 or 0), the account's failures within withinMillis (at most ARGV[9])}
local account = ARGV[3]
local client = ARGV[4]
local remember = tonumber(ARGV[5])
local perAccount = tonumber(ARGV[6])
local last = tonumber(redis.call('ZSCORE', KEYS[1], client))
local wasKnown = 0
if last and now - last < remember then
  wasKnown = 1
end
local recent = math.min(redis.call('ZCOUNT', KEYS[3], '(' .. ms(now - tonumber(ARGV[8])), '+inf'), tonumber(ARGV[9]))
redis.call('ZADD', KEYS[1], ms(now), client)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms(now - remember))
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(perAccount + 1))
keepFor(KEYS[1], remember)
track(KEYS[2], account, now + remember, tonumber(ARGV[7]), 'k:', nil)
return {wasKnown, recent}
