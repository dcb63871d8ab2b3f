-- Take one order atomically: idempotency, sold-out and price checks, order, table index, event,
-- cook jobs.
--
-- KEYS[1] idempotency record   KEYS[2] order hash      KEYS[3] table's order zset
-- KEYS[4] order events stream  KEYS[5] restaurant feed KEYS[6] sold-out set
-- KEYS[6 + d]                  price override of dish d (d = 1..#dishes)
-- KEYS[o + 2i - 1], KEYS[o + 2i] job i's hash and its station's cook stream (o = 6 + #dishes)
-- ARGV[1] body hash (64 hex)   ARGV[2] the response (JSON)   ARGV[3] the order's lines (JSON)
-- ARGV[4] JSON: order (the order hash's other fields, name/value pairs), score, order_id,
--         event (name/value pairs), dishes, prices (the override each dish was priced with,
--         '' if none), jobs (each {hash = name/value pairs, entry = name/value pairs}), ttl,
--         feed_maxlen
-- Returns {'created', response} | {'replay', response} | {'conflict'} | {'soldout', dish_id}
-- | {'stale', dish_id} (its price changed: price again and resubmit).
-- Nothing is written unless the order is created, so a refused order leaves no trace.

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

redis.call('HSET', KEYS[2], 'lines', ARGV[3], unpack(p.order))
redis.call('ZADD', KEYS[3], p.score, p.order_id)
redis.call('XADD', KEYS[4], '*', unpack(p.event))
redis.call('XADD', KEYS[5], 'MAXLEN', '~', p.feed_maxlen, '*', unpack(p.event))
for i, job in ipairs(p.jobs) do
  redis.call('HSET', KEYS[o + 2 * i - 1], unpack(job.hash))
  redis.call('XADD', KEYS[o + 2 * i], '*', unpack(job.entry))
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'EX', p.ttl)
return {'created', ARGV[2]}
