-- prelude: holds.lua
-- RelayGuard holds: the hold of a key in force now (read only; the SMTP path: one round trip).
-- KEYS[1] <P>k:<key>   ARGV[3] the key
-- Returns  {until, reason, since} (until: epoch millis, -1 until lifted; since: epoch millis, -1 unknown), or an empty
--          reply when it is not held
local hold = holdOf(ARGV[3])
if not hold then
  return {}
end
return {ms(hold[1]), hold[2], ms(hold[3])}
