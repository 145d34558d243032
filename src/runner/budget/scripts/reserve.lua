-- Reserve: one atomic step over every counter a call falls under (docs/fleet.md).
--
-- KEYS: for each counter, three keys: its totals hash (fields `committed`, `held`,
--       `workload`), its holds hash (reservation id -> amount) and its leases sorted set
--       (reservation id -> expiry, ms of the server's clock).
-- ARGV: id, amount, lease_ms, then for each counter: cap, expiry kind (`at` or `in`),
--       expiry ms, workload.
--       An empty id only drops expired holds and reports the counters (a status read).
-- Returns {1, committed_1, held_1, committed_2, held_2, ...} when the hold was added to every
-- counter, or {0, i, committed_i, held_i} for the first counter i whose cap refused it.
--
-- Amounts are decimal strings of signed 64-bit pico-dollars. Lua numbers are doubles (exact
-- only up to 2^53), so sums and comparisons use two limbs of 10^9, and the stored values
-- change only through HINCRBY, which Redis does in exact 64-bit integers.

local LIMB = 1000000000

local function limbs(s)
  s = tostring(s or '0')
  local n = #s
  if n <= 9 then return 0, tonumber(s) end
  return tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))
end

local function add(ah, al, bh, bl)
  local l = al + bl
  return ah + bh + math.floor(l / LIMB), l % LIMB
end

local function le(ah, al, bh, bl)
  return ah < bh or (ah == bh and al <= bl)
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local amount = ARGV[2]
local lease = tonumber(ARGV[3])
local n = #KEYS / 3

-- Day counters (`at`) expire at a fixed time: the totals hash gets it when the counter is
-- created, the holds hash and leases set when they are (Redis deletes them once empty, and
-- writing them again makes them without an expiry). Trace counters (`in`) expire after an
-- idle time, so every use pushes their expiry back.
local function expire(i, c, h, l, fresh, new_holds)
  local kind = ARGV[3 + (i - 1) * 4 + 2]
  local ms = tonumber(ARGV[3 + (i - 1) * 4 + 3])
  if kind == 'at' then
    if fresh then redis.call('PEXPIREAT', c, ms) end
    if new_holds then
      redis.call('PEXPIREAT', h, ms)
      redis.call('PEXPIREAT', l, ms)
    end
  else
    redis.call('PEXPIRE', c, ms)
    redis.call('PEXPIRE', h, ms)
    redis.call('PEXPIRE', l, ms)
  end
end

-- Drop expired holds, then check every cap.
local totals = {}
for i = 1, n do
  local c, h, l = KEYS[i * 3 - 2], KEYS[i * 3 - 1], KEYS[i * 3]
  local expired = redis.call('ZRANGEBYSCORE', l, '-inf', now)
  for _, old in ipairs(expired) do
    local held = redis.call('HGET', h, old)
    if held then
      redis.call('HDEL', h, old)
      -- Redis reads `-0` as no integer.
      if held ~= '0' then redis.call('HINCRBY', c, 'held', '-' .. held) end
    end
  end
  if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', l, '-inf', now)
  end
  local v = redis.call('HMGET', c, 'committed', 'held')
  local committed = v[1] or '0'
  local held = v[2] or '0'
  -- A counter not seen before (or expired): its expiry and workload are set once.
  totals[i] = {committed, held, v[1] == false and v[2] == false}
  if id ~= '' then
    local cap = ARGV[3 + (i - 1) * 4 + 1]
    local ch, cl = limbs(committed)
    local hh, hl = limbs(held)
    local ah, al = limbs(amount)
    local sh, sl = add(ch, cl, hh, hl)
    sh, sl = add(sh, sl, ah, al)
    local caph, capl = limbs(cap)
    if not le(sh, sl, caph, capl) then
      return {0, i, committed, held}
    end
  end
end

local out = {1}
for i = 1, n do
  local c, h, l = KEYS[i * 3 - 2], KEYS[i * 3 - 1], KEYS[i * 3]
  if id ~= '' then
    local fresh = totals[i][3]
    local new_holds = redis.call('EXISTS', l) == 0
    redis.call('HSET', h, id, amount)
    redis.call('ZADD', l, now + lease, id)
    redis.call('HINCRBY', c, 'held', amount)
    if fresh then redis.call('HSET', c, 'workload', ARGV[3 + (i - 1) * 4 + 4]) end
    expire(i, c, h, l, fresh, new_holds)
    -- Read back as text: HINCRBY's reply would reach Lua as a double.
    totals[i][2] = redis.call('HGET', c, 'held')
  end
  out[#out + 1] = totals[i][1]
  out[#out + 1] = totals[i][2]
end
return out
