-- Stock (orchestrator/store/stock.py): functions shared by intake.lua and stock_settle.lua,
-- which the store loads with this file in front of them.
--
-- k: the key names {levels, recipes, out, soldout, feed, moves}: `rd:stock:levels` (ingredient
-- -> level, an integer in its unit), `rd:stock:recipes` ('u:' .. dish -> 'ingredient=amount,...'
-- for one unit with default options; 'd:' .. ingredient -> 'dish=amount,...'), `rd:stock:out`
-- (dishes this code 86'd), `rd:soldout`, `rd:feed`, `rd:stock:moves`.
-- ev: {at (ms), maxlen (the feed's), menu (a menu.changed feed entry's name/value pairs but
-- data), by}.

-- Record a movement: kind, its name/value pairs and the items (ingredient -> signed amount).
local function stock_move(k, ev, fields, items)
  local data = cjson.encode(items)
  redis.call('XADD', k.moves, '*', 'at', ev.at, 'items', data, unpack(fields))
end

local function stock_makeable(k, dish)
  local need = redis.call('HGET', k.recipes, 'u:' .. dish)
  for ing, amount in string.gmatch(need or '', '([^,=]+)=(%d+)') do
    if (tonumber(redis.call('HGET', k.levels, ing)) or 0) < tonumber(amount) then
      return false
    end
  end
  return true
end

local function stock_menu_event(k, ev, dish, soldout, ingredient)
  local data = cjson.encode({dish_id = dish, by = 'stock', soldout = soldout,
    ingredient = ingredient})
  redis.call('XADD', k.feed, 'MAXLEN', '~', ev.maxlen, '*', 'data', data, unpack(ev.menu))
  stock_move(k, ev, {'kind', soldout and 'out' or 'back', 'dish_id', dish, 'by', 'stock',
    'why', ingredient}, {})
end

-- 86 a dish `ingredient` can no longer make, unless it is 86'd already (an operator's 86
-- stays theirs: only dishes in k.out come back by themselves).
local function stock_out(k, ev, dish, ingredient)
  if redis.call('SISMEMBER', k.out, dish) == 0 and redis.call('SADD', k.soldout, dish) == 1 then
    redis.call('SADD', k.out, dish)
    stock_menu_event(k, ev, dish, true, ingredient)
  end
end

-- After the levels of `names` (at least one) changed to `levels` (ingredient -> level): 86 the
-- dishes one of them can no longer make ('d:' .. ingredient lists each user with its amount, so
-- this reads one hash field per ingredient); if any level rose, bring back the dishes of k.out
-- (few, often none) that stock can make again.
local function stock_reconcile(k, ev, names, levels, rose)
  local fields = {}
  for n, ing in ipairs(names) do
    fields[n] = 'd:' .. ing
  end
  local users = redis.call('HMGET', k.recipes, unpack(fields))
  for n, ing in ipairs(names) do
    for dish, amount in string.gmatch(users[n] or '', '([^,=]+)=(%d+)') do
      if levels[ing] < tonumber(amount) then
        stock_out(k, ev, dish, ing)
      end
    end
  end
  if rose then
    for _, dish in ipairs(redis.call('SMEMBERS', k.out)) do
      if stock_makeable(k, dish) then
        redis.call('SREM', k.out, dish)
        redis.call('SREM', k.soldout, dish)
        stock_menu_event(k, ev, dish, false, '')
      end
    end
  end
end

-- Change levels by `items` (ingredient -> signed amount), record the movement, keep the
-- automatic 86 in step.
local function stock_commit(k, ev, fields, items)
  local names, levels, rose = {}, {}, false
  for ing, _ in pairs(items) do
    table.insert(names, ing)
  end
  table.sort(names)
  for _, ing in ipairs(names) do
    levels[ing] = redis.call('HINCRBY', k.levels, ing, items[ing])
    rose = rose or items[ing] > 0
  end
  stock_move(k, ev, fields, items)
  stock_reconcile(k, ev, names, levels, rose)
end

-- Every dish using these ingredients as their levels say now (start-up: the config may have
-- changed recipes or levels).
local function stock_reconcile_all(k, ev, names)
  if #names == 0 then
    return
  end
  local values, levels = redis.call('HMGET', k.levels, unpack(names)), {}
  for n, ing in ipairs(names) do
    levels[ing] = tonumber(values[n]) or 0
  end
  stock_reconcile(k, ev, names, levels, true)
end
