"""Lua scripts of :class:`~riskops.stores.redis.online_state.RedisOnlineState` (key layout 2).

Single-instance Redis only: the data keys are passed in ARGV (or built from bases passed in
ARGV), not in KEYS. Redis Cluster would need every key declared in KEYS and all of them in one
hash slot (a ``{hash tag}`` in the prefix).

Entity hash fields (``<m>`` is an escaped metric, so it contains no ``:``):

* ``:`` = struct-packed little-endian doubles: the entity's newest ``occurred_at_us``, its
  number of bucket fields and the number at which it is pruned next;
* ``<m>`` = newest ``occurred_at_us`` of the series (the retention rule is per series);
* ``<m>:<r><b>`` = bucket ``b`` of resolution ``r`` (a digit): ``c`` + struct-packed
  little-endian doubles ``count, last`` or ``v`` + ``count, last, sum, min, max``, followed by
  the bucket's distinct digests (16 hex characters each) or by ``*`` once it spilled to the
  HyperLogLog ``<hll_base><m>:<r><b>``. Counts and times stay below 2**53: exact as doubles.

APPLY_LUA - one EVALSHA applies a whole chunk atomically: compare-and-set of the cursor, every
entity of the chunk, then the cursor move; other clients see all of a chunk or none.
``KEYS[1]`` = cursor key, ``KEYS[2]`` = layout key, ``ARGV[1]`` = from_seq, ``ARGV[2]`` =
to_seq, ``ARGV[3]`` = the chunk pre-aggregated in Python, as one flat JSON array (one argument:
redis-py packs each argument in Python, and cjson decodes a flat array fastest)::

    entity_ttl_s, inline_cap, prune_min, refresh_us, longest_retention_us,
    hll_ttl_s x 5, bucket_us x 5, retention_us - 1 x 5,
    then per entity:  entity_key, hll_base, series,
    then per series:  metric, chunk_newest_us, rows, then per row:
                          field, stale_at_us, count, last_us, sum | null, min | null,
                          max | null, digests ("" for none)
                      or, with one update in the chunk (most series; nothing to fold):
                          metric, occurred_at_us, -1, value | null, digest | "", field x 5

A row is one (resolution, bucket) of the series folded over the chunk's updates, ``digests``
its distinct digests in the chunk, each once. The cursor counts as 0 while the layout key does
not say "2" (state written by an older layout is rebuilt into the new keys; the old keys expire
by their TTLs).

Per entity the script makes one HMGET (the meta field, the newest time of its series in the
chunk and every bucket field the rows touch) and one HSET - whatever its updates, series and
resolutions - plus an EXPIRE when the entity is new or its newest time moves to another
``refresh_us`` period (a week). A row is skipped when the series' newest time (stored newest
merged with the chunk's) has reached ``stale_at_us``: it is then older than its resolution's
retention. Distinct digests stay inline up to ``inline_cap`` per bucket; past it the bucket
spills to a HyperLogLog (EXPIRE = retention + one bucket). When an entity holds more bucket
fields than its prune size, one HGETALL pass drops the buckets beyond their resolution's
retention (relative to their series' newest time) and every series idle for longer than the
longest retention (relative to the entity's newest time), then sets the next prune size to a
quarter more than what is left (at least ``prune_min``).

READ_LUA - a whole read in one round trip. ``ARGV[1]`` = JSON ``[entity_key, hll_base,
metrics | null, big, plans]``: ``metrics`` lists the escaped metrics asked for (``window``) or
is null for every metric of the entity; ``plans`` is, per resolution of the read,
``[resolution digit, bucket_us, retention_us - 1, oldest lo, hi, [lo per window...]]`` (windows
nested, smallest first, so their ``lo`` do not increase). The window ranges come from
:mod:`riskops.core.state.windows` (computed in Python); the script applies each series'
retention to them and folds the buckets server side. An entity with at most ``big`` bucket
fields is read with one HGETALL; a bigger one with HKEYS, then an HMGET of the ranges per
metric. Reply, per metric that exists: the escaped metric, then one string of little-endian
doubles, six per window of every plan in order: count, sum, min, max (NaN without a value),
last_us and the distinct count (exact from the inline digests; with a spilled bucket in the
window, the PFCOUNT of a temporary HyperLogLog of the inline digests with the spilled ones,
deleted before the script returns). Doubles carry counts and times exactly (below 2**53) and
cost the client one ``struct`` call instead of parsing six replies per window.
"""

from __future__ import annotations

APPLY_LUA = r"""
local cur = redis.call('GET', KEYS[1])
if redis.call('GET', KEYS[2]) ~= '2' or not cur then cur = '0' end
if cur ~= ARGV[1] then return 0 end

local P = cjson.decode(ARGV[3])
local null = cjson.null
local fmt, find, sub, byte, floor = string.format, string.find, string.sub, string.byte, math.floor
local spack, sunpack, concat = struct.pack, struct.unpack, table.concat
local ENTITY_TTL, CAP, PRUNE_MIN, REFRESH, LONGEST = P[1], P[2] * 16, P[3], P[4], P[5]
local HLL_TTL = {P[6], P[7], P[8], P[9], P[10]}
local SIZE = {P[11], P[12], P[13], P[14], P[15]}
local RET = {P[16], P[17], P[18], P[19], P[20]}
local BATCH = 2000

local function call_batched(cmd, key, args)
  local n = #args
  if n <= BATCH then return redis.call(cmd, key, unpack(args)) end
  local res = {}
  for j = 1, n, BATCH do
    local part = redis.call(cmd, key, unpack(args, j, math.min(j + BATCH - 1, n)))
    if type(part) == 'table' then
      for _, v in ipairs(part) do res[#res + 1] = v end
    end
  end
  return res
end

local function pfadd(key, digests)
  local vals = {}
  for j = 1, #digests, 16 do vals[#vals + 1] = sub(digests, j, j + 15) end
  call_batched('PFADD', key, vals)
end

-- digests of dg not yet in old (16-character digests, matched only at their boundaries)
local function merge_digests(old, dg)
  local parts = {old}
  local seen = old
  for j = 1, #dg, 16 do
    local d = sub(dg, j, j + 15)
    local at = find(seen, d, 1, true)
    while at and (at - 1) % 16 ~= 0 do at = find(seen, d, at + 1, true) end
    if not at then
      parts[#parts + 1] = d
      seen = seen .. d
    end
  end
  if #parts == 1 then return old end
  return concat(parts)
end

-- a bucket's new value: prev (or false) merged with a folded row (hll: its spill key's base)
local function merged(prev, c, last, sum, mn, mx, dg, hbase, field)
  local tail = ''
  if prev then
    if byte(prev, 1) == 118 then
      local pc, pl, ps, pmn, pmx = sunpack('<ddddd', prev, 2)
      c = c + pc
      if pl > last then last = pl end
      if sum == null then
        sum, mn, mx = ps, pmn, pmx
      else
        sum = sum + ps
        if pmn < mn then mn = pmn end
        if pmx > mx then mx = pmx end
      end
      if #prev > 41 then tail = sub(prev, 42) end
    else
      local pc, pl = sunpack('<dd', prev, 2)
      c = c + pc
      if pl > last then last = pl end
      if #prev > 17 then tail = sub(prev, 18) end
    end
  end
  if dg ~= '' then
    if tail == '*' then
      pfadd(hbase .. field, dg)
    else
      if tail == '' then tail = dg else tail = merge_digests(tail, dg) end
      if #tail > CAP then
        local hll = hbase .. field
        pfadd(hll, tail)
        redis.call('EXPIRE', hll, HLL_TTL[byte(field, find(field, ':', 1, true) + 1) - 47])
        tail = '*'
      end
    end
  end
  if sum == null then return 'c' .. spack('<dd', c, last) .. tail end
  return 'v' .. spack('<ddddd', c, last, sum, mn, mx) .. tail
end

local function prune(ekey, top)
  local flat = redis.call('HGETALL', ekey)
  local newest = {}
  for j = 1, #flat, 2 do
    local f = flat[j]
    if byte(f, 1) ~= 58 and not find(f, ':', 1, true) then newest[f] = tonumber(flat[j + 1]) end
  end
  local stale, k, keep = {}, 0, {}
  for m, t in pairs(newest) do
    if t <= top - LONGEST then
      stale[#stale + 1] = m  -- idle for longer than every retention: the whole series goes
    else
      local ks = {}
      for r = 1, 5 do ks[r] = floor((t - RET[r]) / SIZE[r]) end
      keep[m] = ks
    end
  end
  for j = 1, #flat, 2 do
    local f = flat[j]
    local at = find(f, ':', 2, true)
    if at then
      local ks = keep[sub(f, 1, at - 1)]
      if ks and tonumber(sub(f, at + 2)) >= ks[byte(f, at + 1) - 47] then
        k = k + 1
      else
        stale[#stale + 1] = f
      end
    end
  end
  if #stale > 0 then call_batched('HDEL', ekey, stale) end
  local next_at = math.max(PRUNE_MIN, k + floor(k / 4) + PRUNE_MIN)
  redis.call('HSET', ekey, ':', spack('<ddd', top, k, next_at))
end

local i, count = 21, #P
while i <= count do
  local ekey, hbase, nseries = P[i], P[i + 1], P[i + 2]
  i = i + 3
  -- every field this entity's series touch, in payload order
  local names, nn = {':'}, 1
  local j = i
  for _ = 1, nseries do
    local nrows = P[j + 2]
    nn = nn + 1
    names[nn] = P[j]
    if nrows < 0 then
      for r = 5, 9 do names[nn + r - 4] = P[j + r] end
      nn = nn + 5
      j = j + 10
    else
      j = j + 3
      for _ = 1, nrows do
        nn = nn + 1
        names[nn] = P[j]
        j = j + 8
      end
    end
  end
  local old = call_batched('HMGET', ekey, names)
  local enewest, k, prune_at = false, 0, PRUNE_MIN
  if old[1] then enewest, k, prune_at = sunpack('<ddd', old[1]) end
  local top = enewest
  local set, ns = {}, 0
  local o = 2
  for _ = 1, nseries do
    local m, t, nrows = P[i], P[i + 1], P[i + 2]
    local prevn = tonumber(old[o])
    local newest = t
    if prevn and prevn >= t then
      newest = prevn
    else
      set[ns + 1] = m
      set[ns + 2] = fmt('%d', t)
      ns = ns + 2
    end
    if not top or newest > top then top = newest end
    o = o + 1
    if nrows < 0 then  -- one update: value, digest, the field of each resolution
      local v, dg = P[i + 3], P[i + 4]
      local fresh = false  -- the value of a new bucket: the same at every resolution
      local late = newest - t >= RET[1]  -- else within every resolution's retention
      for r = 1, 5 do
        local field, prev = P[i + 4 + r], old[o]
        o = o + 1
        if not late or newest < (floor(t / SIZE[r]) + 1) * SIZE[r] + RET[r] then
          set[ns + 1] = field
          if prev then
            set[ns + 2] = merged(prev, 1, t, v, v, v, dg, hbase, field)
          else
            k = k + 1
            if not fresh then fresh = merged(false, 1, t, v, v, v, dg, hbase, field) end
            set[ns + 2] = fresh
          end
          ns = ns + 2
        end
      end
      i = i + 10
    else
      i = i + 3
      for _ = 1, nrows do
        local field, prev = P[i], old[o]
        o = o + 1
        if newest < P[i + 1] then
          if not prev then k = k + 1 end
          set[ns + 1] = field
          set[ns + 2] = merged(
            prev, P[i + 2], P[i + 3], P[i + 4], P[i + 5], P[i + 6], P[i + 7], hbase, field)
          ns = ns + 2
        end
        i = i + 8
      end
    end
  end
  set[ns + 1] = ':'
  set[ns + 2] = spack('<ddd', top, k, prune_at)
  call_batched('HSET', ekey, set)
  if not enewest or floor(enewest / REFRESH) ~= floor(top / REFRESH) then
    redis.call('EXPIRE', ekey, ENTITY_TTL)
  end
  if k > prune_at then prune(ekey, top) end
end

redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], '2')
return 1
"""

READ_LUA = r"""
local A = cjson.decode(ARGV[1])
local ekey, hbase, asked, big, plans = A[1], A[2], A[3], A[4], A[5]
local fmt, find, sub, byte, floor = string.format, string.find, string.sub, string.byte, math.floor
local sunpack = struct.unpack
local tmp = hbase .. ':tmp'
local nplans = #plans

-- the bucket range of every plan for a series whose newest time is t: lo[p], hi[p] or nil
local function ranges(t)
  local lo, hi = {}, {}
  for p = 1, nplans do
    local plan = plans[p]
    local size = plan[2]
    local l, h = floor((t - plan[3]) / size), floor(t / size)
    if l < plan[4] then l = plan[4] end
    if h > plan[5] then h = plan[5] end
    if l <= h then lo[p], hi[p] = l, h end
  end
  return lo, hi
end
local plan_of = {}  -- resolution digit (byte) -> plan number
for p = 1, nplans do plan_of[48 + plans[p][1]] = p end

-- per metric: its ranges and, per plan, the buckets in range: bs[p] = {b...}, vs[p] = {value...}
local order, series = {}, {}
local function add_series(m, t)
  local lo, hi = ranges(t)
  local bs, vs = {}, {}
  for p = 1, nplans do
    if lo[p] then bs[p], vs[p] = {}, {} end
  end
  series[m] = {lo, hi, bs, vs}
  order[#order + 1] = m
end
local function add_bucket(m, f, at, value)
  local s = series[m]
  local p = plan_of[byte(f, at + 1)]
  if s and p then
    local lo = s[1][p]
    if lo then
      local b = tonumber(sub(f, at + 2))
      if b >= lo and b <= s[2][p] then
        local bs = s[3][p]
        bs[#bs + 1] = b
        s[4][p][#bs] = value
      end
    end
  end
end

local wanted = false
if asked ~= cjson.null then
  wanted = {}
  for _, m in ipairs(asked) do wanted[m] = true end
end
local meta, k = redis.call('HGET', ekey, ':'), 0
if meta then k = select(2, sunpack('<ddd', meta)) end
if k <= big then
  local flat = redis.call('HGETALL', ekey)
  local n = #flat
  local colon = {}
  for j = 1, n, 2 do  -- the series first: their newest times give the ranges
    local f = flat[j]
    if byte(f, 1) ~= 58 then
      local at = find(f, ':', 2, true)
      if not at then
        if not wanted or wanted[f] then add_series(f, tonumber(flat[j + 1])) end
      else
        colon[j] = at
      end
    end
  end
  local active = {}  -- resolution digits some series has a range at
  for _, m in ipairs(order) do
    for p = 1, nplans do
      if series[m][1][p] then active[48 + plans[p][1]] = true end
    end
  end
  for j = 1, n, 2 do
    local at = colon[j]
    if at then
      local f = flat[j]
      if active[byte(f, at + 1)] then add_bucket(sub(f, 1, at - 1), f, at, flat[j + 1]) end
    end
  end
else
  local ms = asked
  if not wanted then
    ms = {}
    for _, f in ipairs(redis.call('HKEYS', ekey)) do
      if byte(f, 1) ~= 58 and not find(f, ':', 2, true) then ms[#ms + 1] = f end
    end
  end
  if #ms > 0 then
    local ts = redis.call('HMGET', ekey, unpack(ms))
    for x, m in ipairs(ms) do
      if ts[x] then
        add_series(m, tonumber(ts[x]))
        local s = series[m]
        local names = {}
        for p = 1, nplans do
          if s[1][p] then
            local prefix = m .. ':' .. plans[p][1]
            for b = s[1][p], s[2][p] do names[#names + 1] = prefix .. fmt('%d', b) end
          end
        end
        for j = 1, #names, 2000 do
          local last = math.min(j + 1999, #names)
          local vals = redis.call('HMGET', ekey, unpack(names, j, last))
          for y = j, last do
            local value = vals[y - j + 1]
            if value then add_bucket(m, names[y], #m + 1, value) end
          end
        end
      end
    end
  end
end

local NAN = 0 / 0
local EMPTY = struct.pack('<dddddd', 0, 0, NAN, NAN, 0, 0)

local out = {}
for _, m in ipairs(order) do
  out[#out + 1] = m
  local s = series[m]
  local packed = {}
  for p = 1, nplans do
    local plan = plans[p]
    local wlos = plan[6]
    local bs = s[3][p]
    local n = bs and #bs or 0
    if n == 0 then
      for _ = 1, #wlos do packed[#packed + 1] = EMPTY end
    else
      local vs = s[4][p]
      local idx = {}
      for x = 1, n do idx[x] = x end
      if n > 1 then table.sort(idx, function(x, y) return bs[x] > bs[y] end) end
      local c, sum, mn, mx = 0, 0, NAN, NAN
      local seen, distinct, spilled = {}, 0, {}
      local _, last = sunpack('<dd', vs[idx[1]], 2)
      local x = 1
      for w = 1, #wlos do
        local wlo = wlos[w]
        while x <= n and bs[idx[x]] >= wlo do
          local value = vs[idx[x]]
          local tail
          if byte(value, 1) == 118 then
            local bc, _, bsum, bmn, bmx = sunpack('<ddddd', value, 2)
            c = c + bc
            sum = sum + bsum
            if not (bmn >= mn) then mn = bmn end  -- also replaces the NaN of "no value yet"
            if not (bmx <= mx) then mx = bmx end
            tail = 42
          else
            c = c + sunpack('<dd', value, 2)
            tail = 18
          end
          if #value >= tail then
            if byte(value, tail) == 42 then
              spilled[#spilled + 1] = hbase .. m .. ':' .. plan[1] .. fmt('%d', bs[idx[x]])
            else
              for j = tail, #value, 16 do
                local d = sub(value, j, j + 15)
                if not seen[d] then
                  seen[d] = true
                  distinct = distinct + 1
                end
              end
            end
          end
          x = x + 1
        end
        local dcount = distinct
        if #spilled > 0 then
          redis.call('DEL', tmp)
          local vals = {}
          for d in pairs(seen) do
            vals[#vals + 1] = d
            if #vals >= 2000 then
              redis.call('PFADD', tmp, unpack(vals))
              vals = {}
            end
          end
          redis.call('PFADD', tmp, unpack(vals))
          dcount = redis.call('PFCOUNT', tmp, unpack(spilled))
          redis.call('DEL', tmp)
        end
        if c > 0 then
          packed[#packed + 1] = struct.pack('<dddddd', c, sum, mn, mx, last, dcount)
        else
          packed[#packed + 1] = EMPTY
        end
      end
    end
  end
  out[#out + 1] = table.concat(packed)
end
return out
"""
