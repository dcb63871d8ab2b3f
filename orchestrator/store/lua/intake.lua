-- Take one order atomically: idempotency, sold-out and price checks, the table's dining session
-- and its limits, order, table index, event, cook jobs.
--
-- KEYS[1] idempotency record   KEYS[2] order hash      KEYS[3] table's order zset
-- KEYS[4] order events stream  KEYS[5] restaurant feed KEYS[6] sold-out set
-- KEYS[6 + d]                  price override of dish d (d = 1..#dishes)
-- KEYS[o + 2i - 1], KEYS[o + 2i] job i's hash and its station's cook stream (o = 6 + #dishes)
-- ARGV[1] body hash (64 hex)   ARGV[2] the order's id        ARGV[3] the order's lines (JSON)
-- ARGV[4] now (ms)
-- Then flat, read in this order ("list": a count, then that many): the order hash's blanks
-- (T.order, see below), the order.accepted event's blanks (T.event), the dishes (list), the
-- override each dish was priced with ('' if none; one per dish), the session (see "Dining
-- session"), the stock (see "Stock"), the jobs (see "Jobs").
-- What is the same for every order comes from store/intake.py (`_constants`) in front of this
-- script: T, name/value pairs ({pairs, blanks}: the positions in pairs of the values that
-- differ, filled from the arguments in that order), TTL (of the idempotency record, s),
-- FEED_MAXLEN, ENTRY_LEN (a job's cook stream entry is the front of its hash), PER_MINUTE and
-- MAX_DISHES (the per-table limits, 0 = none). Only an order's own values travel: each
-- argument costs Redis about as much as a small write.
-- KEYS[#KEYS - 4 .. #KEYS - 1] stock: levels, recipes, out, moves (see "Stock" below)
-- KEYS[#KEYS]                  the table's dining session hash (always the last key)
-- Returns {'created'} | {'replay', order id} | {'conflict'} | {'soldout', dish_id}
-- | {'stale', dish_id} (its price changed: price again and resubmit) | {'ended'} | {'rate'}
-- | {'dishes', dishes left} | {'nostock', level, ...} (stock cannot make it: see "Stock").
-- Nothing is written unless the order is created, so a refused order leaves no trace.

local argn = 4
local function arg()
  argn = argn + 1
  return ARGV[argn]
end
-- The next n arguments (n: read from the next argument if not given).
local function list(n)
  n = n or tonumber(arg())
  local t = {unpack(ARGV, argn + 1, argn + n)}
  argn = argn + n
  return t
end
-- A template's pairs, its blanks from the next arguments (but the first `skip` of them).
local function filled(t, skip)
  local out = {unpack(t.pairs)}
  for b = (skip or 0) + 1, #t.blanks do
    out[t.blanks[b]] = arg()
  end
  return out
end

-- Dining session (store/sessions.py). The order joins the table's open session, or opens
-- session n + 1 at a free table (status 'closed' or no session yet). Its arguments: visit (the
-- visit code's session number, -1 for the printed table code), id (for a new session),
-- table_id, minute (now // 60000), dishes (units of this order), the blanks of T.seated (the
-- table.seated feed entry but its data).
-- session_check refuses a visit code of another session ('ended'), a table at its orders this
-- minute ('rate') or over its dishes this session ('dishes'); session_attach writes.
local function session_args()
  local s = {visit = tonumber(arg())}
  s.id, s.table_id, s.at, s.minute = arg(), arg(), ARGV[4], tonumber(arg())
  s.dishes, s.seated_event = tonumber(arg()), filled(T.seated)
  return s
end

local function session_check(key, s)
  local cur = redis.call('HMGET', key, 'id', 'n', 'status', 'dishes', 'rate_minute', 'rate_count',
    'orders')
  local n = tonumber(cur[2]) or 0
  local open = cur[1] and cur[3] ~= 'closed'
  if s.visit >= 0 and s.visit ~= (open and n or n + 1) then
    return nil, {'ended'}
  end
  local dishes, count = 0, 0
  if open then
    dishes = tonumber(cur[4]) or 0
    if tonumber(cur[5]) == s.minute then
      count = tonumber(cur[6]) or 0
    end
  end
  if PER_MINUTE > 0 and count >= PER_MINUTE then
    return nil, {'rate'}
  end
  if MAX_DISHES > 0 and dishes + s.dishes > MAX_DISHES then
    return nil, {'dishes', tostring(MAX_DISHES - dishes)}
  end
  return {id = open and cur[1] or nil, n = n, status = cur[3], count = count, dishes = dishes,
    orders = tonumber(cur[7]) or 0}
end

local function session_attach(key, s, found, feed)
  if not found.id then
    redis.call('DEL', key)
    redis.call('HSET', key, 'id', s.id, 'table_id', s.table_id, 'n', found.n + 1,
      'status', 'seated', 'opened_at', s.at, 'opened_by', 'order', 'orders', 1,
      'dishes', s.dishes, 'rate_minute', s.minute, 'rate_count', 1)
    local data = cjson.encode({table_id = s.table_id, session_id = s.id, by = 'order'})
    redis.call('XADD', feed, 'MAXLEN', '~', FEED_MAXLEN, '*', 'data', data,
      unpack(s.seated_event))
    return s.id
  end
  -- One HSET of the counts as session_check read them (the same as HINCRBY, in one call).
  local fields = {'orders', found.orders + 1, 'dishes', found.dishes + s.dishes,
    'rate_minute', s.minute, 'rate_count', found.count + 1}
  if found.status == 'paid' then
    -- More to pay: not paid in full any more.
    fields[9], fields[10], fields[11], fields[12] = 'status', 'closing', 'paid_at', 0
  end
  redis.call('HSET', key, unpack(fields))
  return found.id
end

-- Stock (store/stock.py; stock_lib.lua is loaded in front of this script). Its arguments: what
-- the order takes (the count of ingredients, then per ingredient in name order: its id, the
-- amount, its floor: below it some dish may no longer be made of it), the sale's items (JSON,
-- ingredient -> minus the amount) and the blanks of T.sale (the sale's pairs but at and
-- items). Python adds up the order's lines, so the script does one subtraction per ingredient.
-- KEYS[#KEYS - 4] .. KEYS[#KEYS - 1]: rd:stock:levels, rd:stock:recipes, rd:stock:out,
-- rd:stock:moves.
-- stock_check refuses an order that would take any ingredient below zero, with the levels it
-- read (store/intake.py names the first dish, in line order, that stock cannot make);
-- stock_write takes the ingredients, records the sale and 86es the dishes that can no longer
-- be made.
local function stock_args()
  local s = {names = {}, amounts = {}, floors = {}}
  for i = 1, tonumber(arg()) do
    s.names[i], s.amounts[i], s.floors[i] = arg(), tonumber(arg()), tonumber(arg())
  end
  s.items, s.move = arg(), filled(T.sale)
  return s
end

local function stock_check(s)
  if #s.names == 0 then
    return {}
  end
  local levels = redis.call('HMGET', KEYS[#KEYS - 4], unpack(s.names))
  local left, short = {}, false
  for i = 1, #s.names do
    left[i] = (tonumber(levels[i]) or 0) - s.amounts[i]
    short = short or left[i] < 0
  end
  if short then
    local refusal = {'nostock'}
    for i = 1, #s.names do
      refusal[i + 1] = levels[i] or '0'
    end
    return nil, refusal
  end
  return left
end

local function stock_write(s, left)
  if #s.names == 0 then
    return
  end
  -- The levels are known: one HSET rather than an HINCRBY each; only the ingredients left
  -- below their floor have dishes to check (reading every user was most of an order's work).
  local values, low, levels = {}, {}, {}
  for i, ing in ipairs(s.names) do
    values[2 * i - 1], values[2 * i] = ing, string.format('%d', left[i])
    if left[i] < s.floors[i] then
      low[#low + 1], levels[ing] = ing, left[i]
    end
  end
  redis.call('HSET', KEYS[#KEYS - 4], unpack(values))
  redis.call('XADD', KEYS[#KEYS - 1], '*', 'at', ARGV[4], 'items', s.items, unpack(s.move))
  if #low > 0 then
    local k = {levels = KEYS[#KEYS - 4], recipes = KEYS[#KEYS - 3], out = KEYS[#KEYS - 2],
      moves = KEYS[#KEYS - 1], soldout = KEYS[6], feed = KEYS[5]}
    local menu = {unpack(T.menu.pairs)}
    menu[T.menu.blanks[1]] = ARGV[4]
    stock_reconcile(k, {at = ARGV[4], maxlen = FEED_MAXLEN, menu = menu}, low, levels, false)
  end
end

local stored = redis.call('GET', KEYS[1])
if stored then
  if string.sub(stored, 1, 64) == ARGV[1] then
    return {'replay', string.sub(stored, 66)}  -- the caller answers from that order's hash
  end
  return {'conflict'}
end

local order_fields, event, dishes = filled(T.order), filled(T.event), list()
local prices = list(#dishes)
local o = 6 + #dishes
if o > 6 then
  local soldout = redis.call('SMISMEMBER', KEYS[6], unpack(dishes))
  local priced = redis.call('MGET', unpack(KEYS, 7, o))
  for d, dish in ipairs(dishes) do
    if soldout[d] == 1 then
      return {'soldout', dish}
    end
    if (priced[d] or '') ~= prices[d] then
      return {'stale', dish}
    end
  end
end

local s = session_args()
local session, refusal = session_check(KEYS[#KEYS], s)
if refusal then
  return refusal
end
local st = stock_args()
local left, stock_refusal = stock_check(st)
if stock_refusal then
  return stock_refusal
end

local session_id = session_attach(KEYS[#KEYS], s, session, KEYS[5])
table.insert(order_fields, 'session_id')
table.insert(order_fields, session_id)
redis.call('HSET', KEYS[2], 'lines', ARGV[3], unpack(order_fields))
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
redis.call('XADD', KEYS[4], '*', unpack(event))
redis.call('XADD', KEYS[5], 'MAXLEN', '~', FEED_MAXLEN, '*', unpack(event))

-- Jobs: per line with jobs, their count, then the blanks of T.job but the first (what a unit
-- takes from stock), then each job's first blank (its packed cook entry, store/jobs.py).
local i = 0
while argn < #ARGV do
  local units = tonumber(arg())
  local job = filled(T.job, 1)
  for _ = 1, units do
    i = i + 1
    job[T.job.blanks[1]] = arg()
    redis.call('HSET', KEYS[o + 2 * i - 1], unpack(job))
    redis.call('XADD', KEYS[o + 2 * i], '*', unpack(job, 1, ENTRY_LEN))
  end
end
stock_write(st, left)
-- The body hash and the order's id: a replay's response is made again from the order hash.
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'EX', TTL)
return {'created'}
