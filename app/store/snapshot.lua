-- Writes a new version (state, model, challengers' models, head, log
-- entry) only on top of the version the learner started from: a learner
-- that lost its partition cannot fork the model. Trims the version that
-- falls out of the history (its model stays if it is kept), publishes the
-- new version's number. A version kept past the history pushes the oldest
-- kept ones out past kept_max: the caller names them (ARGV[12] on, their
-- models' keys KEYS[10] on), the oldest first. Returns {1, version} or
-- {0, head}.
local head, snap, serve, log, old, old_serve, kept, shadow, old_shadow =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local base, version, blob, model, meta, keep, channel, oldest, keep_this, kept_max, shadows =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10],
  ARGV[11]
local current = redis.call('HGET', head, 'version')
if (current or '') ~= base then
  return {0, current or ''}
end
redis.call('SET', snap, blob)
redis.call('SET', serve, model)
if shadows ~= '' then redis.call('SET', shadow, shadows) else redis.call('DEL', shadow) end
redis.call('HSET', head, 'version', version, 'meta', meta)
redis.call('ZADD', log, version, meta)
redis.call('ZREMRANGEBYRANK', log, 0, -tonumber(keep) - 1)
if keep_this == '1' then
  redis.call('ZADD', kept, version, version)
  for i = 12, #ARGV do
    if redis.call('ZCARD', kept) <= tonumber(kept_max) then break end
    local gone = ARGV[i]
    redis.call('ZREM', kept, gone)
    if tonumber(gone) < tonumber(oldest) then redis.call('DEL', KEYS[i - 2]) end
  end
end
if old ~= snap then
  redis.call('DEL', old, old_shadow)
  if not redis.call('ZSCORE', kept, oldest) then redis.call('DEL', old_serve) end
end
redis.call('PUBLISH', channel, version)
return {1, version}
