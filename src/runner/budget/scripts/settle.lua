-- Settle (or release): one atomic step, idempotent by reservation id (docs/fleet.md).
--
-- KEYS: the reservation's marker key, then each counter's hash (as in reserve.lua).
-- ARGV: id, actual cost, mode, marker ttl ms, then for each counter: expiry kind (`at` or
--       `in`), expiry ms.
--       mode `settle`: the hold is removed and the cost added to committed;
--       `release`: the hold is removed, nothing added (the call failed);
--       `open`: no hold was ever added (the store was down when the call started and the
--       unavailable mode is `open`): the cost is added, never counted late.
-- Returns {status, committed_1, held_1, ...}: status 0 settled, 1 settled late (a hold had
-- expired: the cost still counts), 2 a duplicate (already settled: nothing changed).
--
-- Sums are done in two limbs of 10^9 and written back as text (Lua's doubles are exact only
-- up to 2^53); a counter costs one HMGET, one HDEL and one HSET (and, for a trace, its
-- PEXPIRE). The marker is set first with NX: a duplicate is known in one command.

-- LIMB, limbs, le, add, sub and text come from limbs.lua, prepended.

local marker = KEYS[1]
local id = ARGV[1]
local xh, xl = limbs(ARGV[2])
local mode = ARGV[3]
local n = #KEYS - 1
local field = 'h:' .. id

if not redis.call('SET', marker, mode, 'PX', ARGV[4], 'NX') then
  local out = {2}
  for i = 1, n do
    local v = redis.call('HMGET', KEYS[1 + i], 'committed', 'held')
    out[#out + 1] = v[1] or '0'
    out[#out + 1] = v[2] or '0'
  end
  return out
end

-- The server's clock, read only when a hold's lease end is compared.
local now = nil
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end

local late = false
local out = {0}
for i = 1, n do
  local c = KEYS[1 + i]
  local v = redis.call('HMGET', c, 'committed', 'held', field)
  local ch, cl = limbs(v[1])
  local hh, hl = limbs(v[2])
  local fresh = v[1] == false and v[2] == false
  local write = false
  if v[3] then
    local amt, ends = string.match(v[3], '^(%d+):(%d+)$')
    if tonumber(ends or '0') <= clock() then late = true end
    redis.call('HDEL', c, field)
    hh, hl = sub(hh, hl, limbs(amt))
    write = true
  elseif mode ~= 'open' then
    -- Dropped by a later reserve once its lease ended.
    late = true
  end
  if mode ~= 'release' then
    ch, cl = add(ch, cl, xh, xl)
    write = true
  end
  if write then
    redis.call('HSET', c, 'committed', text(ch, cl), 'held', text(hh, hl))
  end
  if mode ~= 'release' then
    local kind = ARGV[4 + (i - 1) * 2 + 1]
    local ms = ARGV[4 + (i - 1) * 2 + 2]
    if kind == 'at' then
      -- A day's end is fixed: set when the hash is made (only `open` makes it here).
      if fresh then redis.call('PEXPIREAT', c, ms) end
    else
      -- Idle time counts from the last use.
      redis.call('PEXPIRE', c, ms)
    end
  end
  out[#out + 1] = text(ch, cl)
  out[#out + 1] = text(hh, hl)
end

if late and mode == 'settle' then out[1] = 1 end
return out
