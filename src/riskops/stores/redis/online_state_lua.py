"""Lua scripts of :class:`~riskops.stores.redis.online_state.RedisOnlineState`.

Single-instance Redis only: the data keys are passed in ARGV (or built from bases passed in
ARGV), not in KEYS. Redis Cluster would need every key declared in KEYS and all of them in one
hash slot (a ``{hash tag}`` in the prefix).

APPLY_LUA - one EVALSHA applies a whole chunk atomically: compare-and-set of the cursor, then
every pre-aggregated bucket, then the cursor move; other clients see all of a chunk or none.
``KEYS[1]`` = cursor key, ``ARGV[1]`` = from_seq, ``ARGV[2]`` = to_seq, ``ARGV[3]`` = a JSON
payload (one argument instead of ~75 per update: redis-py packs each argument in Python, which
measured 10x slower than ``orjson`` + ``cjson``)::

    [[[metrics_key, newest_field, chunk_newest_us, distinct_field | "", ttl_s], ...],  # series
     [[series_no, stale_at_us, hash_key, bucket, count, sum, min | null, max | null,
       last_us, hll_key | "", resolution_no, [distinct values]], ...],                # buckets
     [[hash_ttl_s, hll_ttl_s], ...]]                                            # per resolution

Keys and bucket indexes are computed in Python; the script only merges. A bucket is skipped when
its series' newest time (stored newest merged with the chunk's) has reached ``stale_at_us``: it
is then older than its resolution's retention. Per bucket: one HMGET and one HSET, plus EXPIRE
when the bucket is new (a hash's TTL is thus reset whenever one of its buckets is created, and
the last bucket of an epoch is created at the latest at the epoch's end), plus PFADD for distinct
values. Numbers are stored with 17 significant digits, so they round-trip exactly.
JSON numbers are doubles: times in µs stay exact up to 2**53 (year 2255).

READ_LUA - the second round trip of a read, one call for every metric and window of it:
``ARGV[1]`` = JSON ``[[hash_base, hll_base | "", hi, [lo per window]], ...]``, one group per
(metric, resolution); the windows of a group are nested, smallest first, so their ``lo`` do not
increase. Which buckets belong to a window (``lo <= b <= hi``, retention included) is decided in
Python by :mod:`riskops.core.state.windows`; the script only folds the fields of the epoch
hashes ``hash_base .. epoch`` over those ranges, server side, so a 90-day read returns 6 values
per window instead of every bucket. Per window, in order: count, sum, min | nil, max | nil,
last_us (0 when empty), and the PFCOUNT of the HyperLogLogs of the window's existing buckets.
"""

from __future__ import annotations

APPLY_LUA = r"""
local cur = redis.call('GET', KEYS[1])
if not cur then cur = '0' end
if cur ~= ARGV[1] then return 0 end

local payload = cjson.decode(ARGV[3])
local null, fmt = cjson.null, string.format
local ttls = payload[3]
local newest = {}
local expired = {}
for s, row in ipairs(payload[1]) do
  local mkey, field, t, dfield = row[1], row[2], row[3], row[4]
  local old = redis.call('HGET', mkey, field)
  if old and tonumber(old) >= t then
    newest[s] = tonumber(old)
    if dfield ~= '' then redis.call('HSET', mkey, dfield, '1') end
  else
    newest[s] = t
    if dfield ~= '' then
      redis.call('HSET', mkey, field, fmt('%d', t), dfield, '1')
    else
      redis.call('HSET', mkey, field, fmt('%d', t))
    end
  end
  if not expired[mkey] then
    redis.call('EXPIRE', mkey, row[5])
    expired[mkey] = true
  end
end

for _, r in ipairs(payload[2]) do
  if newest[r[1]] < r[2] then
    local hkey, b = r[3], fmt('%d', r[4])
    local fc, fs, fmn, fmx, fl = 'c:' .. b, 's:' .. b, 'mn:' .. b, 'mx:' .. b, 'l:' .. b
    local old = redis.call('HMGET', hkey, fc, fs, fmn, fmx, fl)
    local c = r[5]
    if old[1] then c = c + tonumber(old[1]) end
    local set = {fc, fmt('%d', c)}
    local mn, mx = r[7], r[8]
    if mn ~= null then
      local sum = r[6]
      if old[2] then sum = sum + tonumber(old[2]) end
      set[#set + 1] = fs
      set[#set + 1] = fmt('%.17g', sum)
      if not old[3] or mn < tonumber(old[3]) then
        set[#set + 1] = fmn
        set[#set + 1] = fmt('%.17g', mn)
      end
      if not old[4] or mx > tonumber(old[4]) then
        set[#set + 1] = fmx
        set[#set + 1] = fmt('%.17g', mx)
      end
    end
    if not old[5] or r[9] > tonumber(old[5]) then
      set[#set + 1] = fl
      set[#set + 1] = fmt('%d', r[9])
    end
    redis.call('HSET', hkey, unpack(set))
    local ttl = ttls[r[11]]
    if not old[1] then redis.call('EXPIRE', hkey, ttl[1]) end
    local values = r[12]
    local n = #values
    if n > 0 then
      local hll, added = r[10], 0
      for j = 1, n, 500 do
        added = added + redis.call('PFADD', hll, unpack(values, j, math.min(j + 499, n)))
      end
      if added > 0 then redis.call('EXPIRE', hll, ttl[2]) end
    end
  end
end

redis.call('SET', KEYS[1], ARGV[2])
return 1
"""

READ_LUA = r"""
local groups = cjson.decode(ARGV[1])
local fmt, match, floor = string.format, string.match, math.floor
local out = {}
for _, g in ipairs(groups) do
  local hbase, dbase, hi, los = g[1], g[2], g[3], g[4]
  local nw = #los
  local lo_min = los[nw]
  local c, s, mn, mx, l, keys = {}, {}, {}, {}, {}, {}
  for w = 1, nw do
    c[w], s[w], mn[w], mx[w], l[w], keys[w] = 0, 0, false, false, false, {}
  end
  for e = floor(lo_min / 64), floor(hi / 64) do
    local flat = redis.call('HGETALL', hbase .. fmt('%d', e))
    for j = 1, #flat, 2 do
      local kind, bs = match(flat[j], '^(%a+):(.+)$')
      local b = tonumber(bs)
      if b >= lo_min and b <= hi then
        local w = 1
        while b < los[w] do w = w + 1 end
        local v = tonumber(flat[j + 1])
        if kind == 'c' then
          c[w] = c[w] + v
          local k = keys[w]
          k[#k + 1] = bs
        elseif kind == 's' then
          s[w] = s[w] + v
        elseif kind == 'mn' then
          if not mn[w] or v < mn[w] then mn[w] = v end
        elseif kind == 'mx' then
          if not mx[w] or v > mx[w] then mx[w] = v end
        elseif kind == 'l' then
          if not l[w] or v > l[w] then l[w] = v end
        end
      end
    end
  end
  local rc, rs, rmn, rmx, rl, rkeys = 0, 0, false, false, false, {}
  for w = 1, nw do
    rc = rc + c[w]
    rs = rs + s[w]
    if mn[w] and (not rmn or mn[w] < rmn) then rmn = mn[w] end
    if mx[w] and (not rmx or mx[w] > rmx) then rmx = mx[w] end
    if l[w] and (not rl or l[w] > rl) then rl = l[w] end
    local distinct = 0
    if dbase ~= '' then
      for _, bs in ipairs(keys[w]) do rkeys[#rkeys + 1] = dbase .. bs end
      if #rkeys > 0 then distinct = redis.call('PFCOUNT', unpack(rkeys)) end
    end
    out[#out + 1] = rc
    out[#out + 1] = fmt('%.17g', rs)
    out[#out + 1] = rmn and fmt('%.17g', rmn)
    out[#out + 1] = rmx and fmt('%.17g', rmx)
    out[#out + 1] = rl or 0
    out[#out + 1] = distinct
  end
end
return out
"""
