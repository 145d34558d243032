-- Settle (or release): one atomic step, idempotent by reservation id (docs/fleet.md).
--
-- KEYS: the reservation's marker key, then for each counter its totals hash, holds hash and
--       leases sorted set (as in reserve.lua).
-- ARGV: id, actual cost, mode, marker ttl ms, then for each counter: expiry kind (`at` or
--       `in`), expiry ms.
--       mode `settle`: the hold is removed and the cost added to committed;
--       `release`: the hold is removed, nothing added (the call failed);
--       `open`: no hold was ever added (the store was down when the call started and the
--       unavailable mode is `open`): the cost is added, never counted late.
-- Returns {status, committed_1, held_1, ...}: status 0 settled, 1 settled late (a hold had
-- expired: the cost still counts), 2 a duplicate (already settled: nothing changed).
--
-- The cost is added with HINCRBY (exact 64-bit integers); Lua never does arithmetic on it.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local marker = KEYS[1]
local id = ARGV[1]
local actual = ARGV[2]
local mode = ARGV[3]
local marker_ttl = tonumber(ARGV[4])
local n = (#KEYS - 1) / 3

local function totals(out)
  for i = 1, n do
    local v = redis.call('HMGET', KEYS[1 + i * 3 - 2], 'committed', 'held')
    out[#out + 1] = v[1] or '0'
    out[#out + 1] = v[2] or '0'
  end
  return out
end

if redis.call('EXISTS', marker) == 1 then
  return totals({2})
end

local late = false
for i = 1, n do
  local c, h, l = KEYS[1 + i * 3 - 2], KEYS[1 + i * 3 - 1], KEYS[1 + i * 3]
  local held = redis.call('HGET', h, id)
  if held then
    local expiry = tonumber(redis.call('ZSCORE', l, id) or '0')
    if expiry <= now then late = true end
    redis.call('HDEL', h, id)
    redis.call('ZREM', l, id)
    -- Redis reads `-0` as no integer.
    if held ~= '0' then redis.call('HINCRBY', c, 'held', '-' .. held) end
  elseif mode ~= 'open' then
    -- Dropped by a later reserve once its lease ended.
    late = true
  end
  if mode ~= 'release' then
    redis.call('HINCRBY', c, 'committed', actual)
    local kind = ARGV[4 + (i - 1) * 2 + 1]
    local ms = tonumber(ARGV[4 + (i - 1) * 2 + 2])
    if kind == 'at' then
      -- A day's end is fixed; settling creates no holds, only (`open`) perhaps the totals.
      redis.call('PEXPIREAT', c, ms)
    else
      -- Idle time counts from the last use.
      redis.call('PEXPIRE', c, ms)
      redis.call('PEXPIRE', h, ms)
      redis.call('PEXPIRE', l, ms)
    end
  end
end
redis.call('SET', marker, mode, 'PX', marker_ttl)

local status = 0
if late and mode == 'settle' then status = 1 end
return totals({status})
