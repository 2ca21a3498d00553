-- Claims a label's event for one training-topic offset, per event:
-- KEYS[i] its pending record, KEYS[n + i] its claim; ARGV[i] the offset,
-- ARGV[n + 1] the claim's time to live. Returns each record, false if
-- unknown, 'D' if claimed by another offset. Re-claiming with the same
-- offset succeeds: that is the learner replaying records that its last
-- snapshot did not cover, after a crash.
local out = {}
local n = #ARGV - 1
local ttl = ARGV[#ARGV]
for i = 1, n do
  local pending = redis.call('GET', KEYS[i])
  if not pending then
    out[i] = false
  else
    local offset = ARGV[i]
    local claim = KEYS[n + i]
    if redis.call('SET', claim, offset, 'NX', 'EX', ttl) or redis.call('GET', claim) == offset then
      out[i] = pending
    else
      out[i] = 'D'
    end
  end
end
return out
