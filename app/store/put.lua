-- Stores a batch's pending records, each under its declared key and only
-- if absent (a redelivered event keeps its first record): one command to
-- send instead of one per event. The new ones are counted in the minute's
-- and the hour's counters (the last two keys), which outlive them.
-- Returns how many were new.
local ttl, n, new = tonumber(ARGV[1]), #KEYS - 2, 0
for i = 1, n do
  if redis.call('SET', KEYS[i], ARGV[i + 1], 'NX', 'EX', ttl) then new = new + 1 end
end
if new > 0 then
  redis.call('INCRBY', KEYS[n + 1], new)
  redis.call('EXPIRE', KEYS[n + 1], ttl + 120)
  redis.call('INCRBY', KEYS[n + 2], new)
  redis.call('EXPIRE', KEYS[n + 2], ttl + 3720)
end
return new
