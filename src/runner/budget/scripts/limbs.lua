-- Exact pico-dollar arithmetic for the budget scripts, prepended to reserve.lua and settle.lua
-- when they are built (Redis runs each script alone; there is no `require`).
--
-- Amounts are decimal strings of signed 64-bit pico-dollars. Lua numbers are doubles, exact
-- only up to 2^53, so sums and comparisons are done in two limbs of 10^9 and written back as
-- text.

local LIMB = 1000000000
-- i64::MAX in limbs: no total is written above it.
local MAXH, MAXL = 9223372036, 854775807

local function limbs(s)
  s = tostring(s or '0')
  local n = #s
  if n <= 9 then return 0, tonumber(s) end
  return tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))
end

local function le(ah, al, bh, bl)
  return ah < bh or (ah == bh and al <= bl)
end

local function add(ah, al, bh, bl)
  local l = al + bl
  local h = ah + bh + math.floor(l / LIMB)
  l = l % LIMB
  if not le(h, l, MAXH, MAXL) then return MAXH, MAXL end
  return h, l
end

-- a - b, never below zero (a total below zero would be a broken store).
local function sub(ah, al, bh, bl)
  local h, l = ah - bh, al - bl
  if l < 0 then
    l = l + LIMB
    h = h - 1
  end
  if h < 0 then return 0, 0 end
  return h, l
end

local function text(h, l)
  if h == 0 then return string.format('%.0f', l) end
  return string.format('%.0f%09.0f', h, l)
end
