"""The atomic apply script of :class:`~riskops.stores.redis.online_state.RedisOnlineState`.

One EVALSHA applies a whole chunk: compare-and-set of the cursor, then every pre-aggregated
bucket, then the expiries, then the cursor move. Redis runs a script atomically, so other clients
see all of a chunk or none of it. Python does the key building and pre-aggregation (one row per
touched bucket, not per update), so the script only merges: per bucket one HMGET and one HSET
(plus PFADD when the bucket received distinct values).

Single-instance Redis only: the keys are passed in ARGV, not KEYS. Redis Cluster would need every
key declared in KEYS and all of them in one hash slot (a ``{hash tag}`` in the prefix).

KEYS[1] = cursor key. ARGV layout::

    from_seq, to_seq,
    n_series, n_series x (metric_hash_key, newest_field, chunk_newest_us, distinct_field | ""),
    n_buckets, n_buckets x (series_no, stale_at_us, hash_key, bucket, count, sum,
                            min | "", max | "", last_us, hll_key | "", n_distinct,
                            n_distinct x value),
    n_expire, n_expire x (key, ttl_seconds)

A bucket is skipped when its series' newest time (stored newest merged with the chunk's) has
reached ``stale_at_us``: it is then older than its resolution's retention. Sums are added in
doubles and stored with 17 significant digits, so they round-trip exactly.
"""

from __future__ import annotations

APPLY_LUA = r"""
local cur = redis.call('GET', KEYS[1])
if not cur then cur = '0' end
if cur ~= ARGV[1] then return 0 end

local i = 3
local n = tonumber(ARGV[i]); i = i + 1
local newest = {}
for s = 1, n do
  local mkey, field, t, dfield = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  i = i + 4
  local tn = tonumber(t)
  local old = redis.call('HGET', mkey, field)
  if old and tonumber(old) >= tn then
    newest[s] = tonumber(old)
  else
    newest[s] = tn
    redis.call('HSET', mkey, field, t)
  end
  if dfield ~= '' then redis.call('HSET', mkey, dfield, '1') end
end

n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local nd = tonumber(ARGV[i + 10])
  if newest[tonumber(ARGV[i])] < tonumber(ARGV[i + 1]) then
    local hkey, b = ARGV[i + 2], ARGV[i + 3]
    local fc, fs, fmn, fmx, fl = 'c:' .. b, 's:' .. b, 'mn:' .. b, 'mx:' .. b, 'l:' .. b
    local old = redis.call('HMGET', hkey, fc, fs, fmn, fmx, fl)
    local c = tonumber(ARGV[i + 4])
    if old[1] then c = c + tonumber(old[1]) end
    local set = {fc, string.format('%d', c)}
    local mn = ARGV[i + 6]
    if mn ~= '' then
      local sum = tonumber(ARGV[i + 5])
      if old[2] then sum = sum + tonumber(old[2]) end
      set[#set + 1] = fs
      set[#set + 1] = string.format('%.17g', sum)
      if not old[3] or tonumber(mn) < tonumber(old[3]) then
        set[#set + 1] = fmn
        set[#set + 1] = mn
      end
      local mx = ARGV[i + 7]
      if not old[4] or tonumber(mx) > tonumber(old[4]) then
        set[#set + 1] = fmx
        set[#set + 1] = mx
      end
    end
    local l = ARGV[i + 8]
    if not old[5] or tonumber(l) > tonumber(old[5]) then
      set[#set + 1] = fl
      set[#set + 1] = l
    end
    redis.call('HSET', hkey, unpack(set))
    if nd > 0 then
      local hll = ARGV[i + 9]
      local j, last = i + 11, i + 10 + nd
      while j <= last do
        local k = math.min(j + 499, last)
        redis.call('PFADD', hll, unpack(ARGV, j, k))
        j = k + 1
      end
    end
  end
  i = i + 11 + nd
end

n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('EXPIRE', ARGV[i], ARGV[i + 1])
  i = i + 2
end

redis.call('SET', KEYS[1], ARGV[2])
return 1
"""
