-- Adds a batch's drift histograms to the window's counts. Bounded: at
-- most max_subjects subjects are watched, each with at most max_buckets
-- buckets. KEYS[1] the set of watched subjects, KEYS[1 + j] subject j's
-- hash in this window. ARGV: the window's time to live, the two bounds,
-- the number of subjects S, their names (S of them, in KEYS' order), then
-- (j, bucket, count) triples.
local subjects, ttl = KEYS[1], ARGV[1]
local max_subjects, max_buckets, s = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local known = {}
for j = 1, s do
  local subject = ARGV[4 + j]
  local watched = redis.call('SISMEMBER', subjects, subject) == 1
  if not watched and redis.call('SCARD', subjects) < max_subjects then
    redis.call('SADD', subjects, subject)
    watched = true
  end
  known[j] = watched
end
local touched = {}
for i = 5 + s, #ARGV, 3 do
  local j, b, n = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2]
  if known[j] then
    local key = KEYS[1 + j]
    if redis.call('HEXISTS', key, b) == 0 and redis.call('HLEN', key) >= max_buckets then
      b = 'other'
    end
    redis.call('HINCRBY', key, b, n)
    if not touched[j] then
      touched[j] = true
      redis.call('EXPIRE', key, ttl)
    end
  end
end
return 0
