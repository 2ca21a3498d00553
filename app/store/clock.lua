-- The event-time clock of the scored stream, per partition of the features
-- topic: the newest event time scored in it (t:<p>) and the wall time that
-- last moved forward (m:<p>); and the first event time ever scored
-- (first). KEYS[1] the clock's hash; ARGV[1] now, then (partition, newest
-- event time of a batch) pairs. Returns how many partitions moved.
local moved = 0
for i = 2, #ARGV, 2 do
  local p, at = ARGV[i], ARGV[i + 1]
  local t = redis.call('HGET', KEYS[1], 't:' .. p)
  if (not t) or tonumber(at) > tonumber(t) then
    redis.call('HSET', KEYS[1], 't:' .. p, at, 'm:' .. p, ARGV[1])
    redis.call('HSETNX', KEYS[1], 'first', at)
    moved = moved + 1
  end
end
return moved
