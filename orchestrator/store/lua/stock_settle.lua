-- A stock movement outside intake (stock_lib.lua is loaded in front of this file): a restock,
-- a count, a cancelled dish given back, waste recorded, or the start-up check of every dish.
--
-- KEYS: levels, recipes, out, soldout, feed, moves (see stock_lib.lua)
-- ARGV[1] JSON: mode ('delta': items are signed changes; 'count': items are the levels counted;
--         'record': items are recorded, levels unchanged), items (ingredient -> amount), fields
--         (the movement's other name/value pairs), ev (see stock_lib.lua), reconcile (more
--         ingredients whose dishes to check)
-- Returns the levels after, as {ingredient, level, ...} in the order of `items`' keys sorted.
local k = {levels = KEYS[1], recipes = KEYS[2], out = KEYS[3], soldout = KEYS[4],
  feed = KEYS[5], moves = KEYS[6]}
local p = cjson.decode(ARGV[1])
local items = {}
for ing, amount in pairs(p.items) do
  if p.mode == 'count' then
    items[ing] = amount - (tonumber(redis.call('HGET', k.levels, ing)) or 0)
  else
    items[ing] = amount
  end
end
if p.mode == 'record' then
  stock_move(k, p.ev, p.fields, items)
elseif next(items) ~= nil then
  stock_commit(k, p.ev, p.fields, items)
end
stock_reconcile_all(k, p.ev, p.reconcile)
local out = {}
for ing, _ in pairs(items) do
  table.insert(out, ing)
end
table.sort(out)
local result = {}
for _, ing in ipairs(out) do
  table.insert(result, ing)
  table.insert(result, redis.call('HGET', k.levels, ing) or '0')
end
return result
