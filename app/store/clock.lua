-- The event-time clock of the scored stream: the newest event time scored
-- anywhere (t), the wall time it last moved forward (moved), and the first
-- it ever had (first). KEYS[1] the clock's hash; ARGV[1] a batch's newest
-- event time, ARGV[2] now. Returns whether it moved.
local t = redis.call('HGET', KEYS[1], 't')
if (not t) or tonumber(ARGV[1]) > tonumber(t) then
  redis.call('HSET', KEYS[1], 't', ARGV[1], 'moved', ARGV[2])
  redis.call('HSETNX', KEYS[1], 'first', ARGV[1])
  return 1
end
return 0
