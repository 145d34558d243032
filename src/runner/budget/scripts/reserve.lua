-- Reserve: one atomic step over every counter a call falls under (docs/fleet.md).
--
-- KEYS: each counter's hash: `committed`, `held` (sum of live holds), `workload`, `next`
--       (no live hold's lease ends before it: ms of the server's clock; absent with no hold)
--       and one field `h:ID` per live hold, `AMOUNT:LEASE_END_MS`.
-- ARGV: id, amount, lease_ms, then for each counter: cap, expiry kind (`at` or `in`),
--       expiry ms, workload.
--       An empty id only drops expired holds and reports the counters (a status read).
-- Returns {1, committed_1, held_1, committed_2, held_2, ...} when the hold was added to every
-- counter, or {0, i, committed_i, held_i} for the first counter i whose cap refused it.
--
-- Amounts are decimal strings of signed 64-bit pico-dollars. Lua numbers are doubles (exact
-- only up to 2^53), so every sum and comparison is done in two limbs of 10^9 and written back
-- as text. Every `redis.call` costs the server a few µs: the usual reserve of a counter is
-- one HMGET and one HSET (and, for a trace, its PEXPIRE); the holds are read only once `next`
-- says one may have ended.

-- LIMB, limbs, le, add, sub and text come from limbs.lua, prepended.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local amount = ARGV[2]
local ah, al = limbs(amount)
local lease_end = now + tonumber(ARGV[3])
local n = #KEYS

-- Drops the holds of counter `c` whose lease ended: returns `held` less them, and writes it,
-- with the new `next`. Deletes in slices: Lua's unpack has a limit on values.
local function sweep(c, hh, hl)
  local all = redis.call('HGETALL', c)
  local gone = {}
  local next = nil
  for j = 1, #all, 2 do
    local f = all[j]
    if string.sub(f, 1, 2) == 'h:' then
      local amt, ends = string.match(all[j + 1], '^(%d+):(%d+)$')
      ends = tonumber(ends or '0')
      if ends <= now then
        gone[#gone + 1] = f
        hh, hl = sub(hh, hl, limbs(amt))
      elseif next == nil or ends < next then
        next = ends
      end
    end
  end
  if next == nil then gone[#gone + 1] = 'next' end
  for j = 1, #gone, 1000 do
    redis.call('HDEL', c, unpack(gone, j, math.min(j + 999, #gone)))
  end
  if next == nil then
    redis.call('HSET', c, 'held', text(hh, hl))
  else
    redis.call('HSET', c, 'held', text(hh, hl), 'next', string.format('%.0f', next))
  end
  return hh, hl, next
end

-- Read every counter (dropping ended holds when `next` says there may be some), then check
-- every cap before writing anything: all or nothing.
local state = {}
for i = 1, n do
  local c = KEYS[i]
  local v = redis.call('HMGET', c, 'committed', 'held', 'next')
  local committed = v[1] or '0'
  local hh, hl = limbs(v[2])
  -- HMGET answers `false` for a missing field.
  local next = nil
  if v[3] then next = tonumber(v[3]) end
  if next and next <= now then
    hh, hl, next = sweep(c, hh, hl)
  end
  -- A counter not seen before (or expired): a day counter's expiry is set once.
  state[i] = {committed, hh, hl, next, v[1] == false and v[2] == false}
  if id ~= '' then
    local cap = ARGV[3 + (i - 1) * 4 + 1]
    local ch, cl = limbs(committed)
    local sh, sl = add(ch, cl, hh, hl)
    sh, sl = add(sh, sl, ah, al)
    local caph, capl = limbs(cap)
    if not le(sh, sl, caph, capl) then
      return {0, i, committed, text(hh, hl)}
    end
  end
end

local out = {1}
for i = 1, n do
  local c = KEYS[i]
  local s = state[i]
  local hh, hl = s[2], s[3]
  if id ~= '' then
    local base = 3 + (i - 1) * 4
    hh, hl = add(hh, hl, ah, al)
    local next = s[4]
    if next == nil or lease_end < next then next = lease_end end
    redis.call('HSET', c, 'held', text(hh, hl), 'h:' .. id,
      amount .. ':' .. string.format('%.0f', lease_end),
      'next', string.format('%.0f', next), 'workload', ARGV[base + 4])
    -- Day counters (`at`) expire at a fixed time, set when the hash is made (writing to it
    -- keeps it). Trace counters (`in`) expire after an idle time: every use pushes it back.
    if ARGV[base + 2] == 'at' then
      if s[5] then redis.call('PEXPIREAT', c, ARGV[base + 3]) end
    else
      redis.call('PEXPIRE', c, ARGV[base + 3])
    end
  end
  out[#out + 1] = s[1]
  out[#out + 1] = text(hh, hl)
end
return out
