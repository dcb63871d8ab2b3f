-- Take one order atomically: idempotency, sold-out and price checks, the table's dining session
-- and its limits, order, table index, event, cook jobs.
--
-- KEYS[1] idempotency record   KEYS[2] order hash      KEYS[3] table's order zset
-- KEYS[4] order events stream  KEYS[5] restaurant feed KEYS[6] sold-out set
-- KEYS[6 + d]                  price override of dish d (d = 1..#dishes)
-- KEYS[o + 2i - 1], KEYS[o + 2i] job i's hash and its station's cook stream (o = 6 + #dishes)
-- ARGV[1] body hash (64 hex)   ARGV[2] the response (JSON)   ARGV[3] the order's lines (JSON)
-- ARGV[4] JSON: order (the order hash's other fields, name/value pairs), score, order_id,
--         event (name/value pairs), dishes, prices (the override each dish was priced with,
--         '' if none), jobs (each job hash's name/value pairs), entry_len (its first entry_len
--         are the job's cook stream entry), ttl, feed_maxlen, session (see "Dining session")
-- KEYS[#KEYS - 4 .. #KEYS - 1] stock: levels, recipes, out, moves (see "Stock" below)
-- KEYS[#KEYS]                  the table's dining session hash (always the last key)
-- Returns {'created', response} | {'replay', response} | {'conflict'} | {'soldout', dish_id}
-- | {'stale', dish_id} (its price changed: price again and resubmit) | {'ended'} | {'rate'}
-- | {'dishes', dishes left} | {'nostock', dish_id} (stock cannot make it: see "Stock").
-- Nothing is written unless the order is created, so a refused order leaves no trace.

-- Dining session (store/sessions.py). The order joins the table's open session, or opens
-- session n + 1 at a free table (status 'closed' or no session yet). p.session: visit (the
-- visit code's session number, -1 for the printed table code), id (for a new session),
-- table_id, at (ms), minute (at // 60000), per_minute, max_dishes (0 = no limit), dishes (units
-- of this order), seated_event (the feed entry's name/value pairs but its data).
-- session_check refuses a visit code of another session ('ended'), a table at its orders this
-- minute ('rate') or over its dishes this session ('dishes'); session_attach writes.
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
  if s.per_minute > 0 and count >= s.per_minute then
    return nil, {'rate'}
  end
  if s.max_dishes > 0 and dishes + s.dishes > s.max_dishes then
    return nil, {'dishes', tostring(s.max_dishes - dishes)}
  end
  return {id = open and cur[1] or nil, n = n, status = cur[3], count = count, dishes = dishes,
    orders = tonumber(cur[7]) or 0}
end

local function session_attach(key, s, found, feed, feed_maxlen)
  if not found.id then
    redis.call('DEL', key)
    redis.call('HSET', key, 'id', s.id, 'table_id', s.table_id, 'n', found.n + 1,
      'status', 'seated', 'opened_at', s.at, 'opened_by', 'order', 'orders', 1,
      'dishes', s.dishes, 'rate_minute', s.minute, 'rate_count', 1)
    local data = cjson.encode({table_id = s.table_id, session_id = s.id, by = 'order'})
    redis.call('XADD', feed, 'MAXLEN', '~', feed_maxlen, '*', 'data', data,
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

-- Stock (store/stock.py; stock_lib.lua is loaded in front of this script). p.stock: lines
-- ({dish, qty, uses = {ingredient, amount per unit, ...}} per line with a recipe), move (the
-- sale's name/value pairs but at and items), ev (see stock_lib.lua). KEYS[#KEYS - 4] ..
-- KEYS[#KEYS - 1]: rd:stock:levels, rd:stock:recipes, rd:stock:out, rd:stock:moves.
-- stock_check refuses an order that would take any ingredient below zero, naming the first
-- dish (in line order) it cannot make; stock_write takes the ingredients, records the sale and
-- 86es the dishes that can no longer be made.
local function stock_keys()
  return {levels = KEYS[#KEYS - 4], recipes = KEYS[#KEYS - 3], out = KEYS[#KEYS - 2],
    moves = KEYS[#KEYS - 1], soldout = KEYS[6], feed = KEYS[5]}
end

local function stock_check(s)
  local items, left = stock_take(stock_keys(), s.lines)
  if not items then
    return nil, nil, {'nostock', left}  -- `left` is then the dish stock cannot make
  end
  return items, left
end

local function stock_write(s, items, left)
  if next(items) ~= nil then
    stock_sell(stock_keys(), s.ev, s.move, items, left)
  end
end

local stored = redis.call('GET', KEYS[1])
if stored then
  if string.sub(stored, 1, 64) == ARGV[1] then
    return {'replay', string.sub(stored, 66)}
  end
  return {'conflict'}
end

local p = cjson.decode(ARGV[4])
local o = 6 + #p.dishes
if o > 6 then
  local soldout = redis.call('SMISMEMBER', KEYS[6], unpack(p.dishes))
  local prices = redis.call('MGET', unpack(KEYS, 7, o))
  for d, dish in ipairs(p.dishes) do
    if soldout[d] == 1 then
      return {'soldout', dish}
    end
    if (prices[d] or '') ~= p.prices[d] then
      return {'stale', dish}
    end
  end
end

local session, refusal = session_check(KEYS[#KEYS], p.session)
if refusal then
  return refusal
end
local stock_items, stock_left, stock_refusal = stock_check(p.stock)
if stock_refusal then
  return stock_refusal
end

local session_id = session_attach(KEYS[#KEYS], p.session, session, KEYS[5], p.feed_maxlen)
table.insert(p.order, 'session_id')
table.insert(p.order, session_id)
redis.call('HSET', KEYS[2], 'lines', ARGV[3], unpack(p.order))
redis.call('ZADD', KEYS[3], p.score, p.order_id)
redis.call('XADD', KEYS[4], '*', unpack(p.event))
redis.call('XADD', KEYS[5], 'MAXLEN', '~', p.feed_maxlen, '*', unpack(p.event))
for i, job in ipairs(p.jobs) do
  redis.call('HSET', KEYS[o + 2 * i - 1], unpack(job))
  redis.call('XADD', KEYS[o + 2 * i], '*', unpack(job, 1, p.entry_len))
end
stock_write(p.stock, stock_items, stock_left)
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'EX', p.ttl)
return {'created', ARGV[2]}
