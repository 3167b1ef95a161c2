-- GCRA (generic cell rate algorithm) for Plinth's shared rate limits, run atomically by Redis.
--
-- KEYS[i]          the counter of limit i (a theoretical arrival time, in microseconds)
-- ARGV[2i - 1]     emission interval of limit i: period / requests, in microseconds
-- ARGV[2i]         burst tolerance of limit i: interval * (requests - 1), in microseconds
--
-- The limits are checked in order, each one counting the request when it allows it, and the
-- first refusal stops the rest (the same order and effect as the local limiters).
-- Returns {0, 0} when every limit allows the request, or {i, wait} when limit i refuses it and
-- the request would be allowed `wait` microseconds from now.
--
-- Time comes from Redis (TIME), so the clocks of the nodes never matter. Each key expires when
-- its arrival time has passed, at which point it means the same as no key: memory stays bounded
-- by the clients active in the last period.

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

for index, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * index - 1])
  local tolerance = tonumber(ARGV[2 * index])
  local arrival = tonumber(redis.call('GET', key)) or now
  if arrival < now then
    arrival = now
  end
  local earliest = arrival - tolerance
  if now < earliest then
    return {index, earliest - now}
  end
  local next_arrival = arrival + interval
  -- '%.0f': a plain integer; Lua's default number formatting would round to 14 digits.
  redis.call('SET', key, string.format('%.0f', next_arrival),
    'PX', string.format('%.0f', math.ceil((next_arrival - now) / 1000)))
end

return {0, 0}
