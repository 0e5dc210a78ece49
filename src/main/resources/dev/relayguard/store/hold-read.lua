-- RelayGuard holds: reading one hold, the lines shared by holds.lua (every hold-*.lua script) and unchanged.lua (the
-- start of acquire.lua, which reads the sender's suspension at MAIL in the same call as the message charge). Not a
-- script on its own: RedisScript puts it in front of the script whose prelude names it, after clock.lua (`now`).

-- The hold in force now whose value is the string at k ("<until>|<reason>", holds.lua's <P>k:<key>) and whose start is
-- at s ("<since>|<until>", <P>s:<key>), as {until, reason, since} (until -1: until lifted; since -1: unknown), or nil.
local function holdAt(k, s)
  local value = redis.call('GET', k)
  if not value then
    return nil
  end
  local bar = string.find(value, '|', 1, true)
  local untilText = string.sub(value, 1, bar - 1)
  local untilMs = tonumber(untilText)
  if untilMs ~= -1 and untilMs <= now then
    return nil
  end
  local sinceMs = -1
  local started = redis.call('GET', s)
  if started then
    local sep = string.find(started, '|', 1, true)
    if sep and string.sub(started, sep + 1) == untilText then
      sinceMs = tonumber(string.sub(started, 1, sep - 1))
    end
  end
  return {untilMs, string.sub(value, bar + 1), sinceMs}
end
