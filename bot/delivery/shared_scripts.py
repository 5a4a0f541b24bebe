"""The Lua scripts of shared_limit.py: each decision runs on Redis's own clock."""

TIME = """
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1700000000) + tonumber(t[2]) / 1e6  -- µs fit in a double
local function f(x) return string.format('%.6f', x) end
local function ms(x) return math.max(1, math.ceil(x * 1000)) end
"""

# KEYS: log, tat, reply_tat, pause, reply_waiting. ARGV: high, cost, n, window, interval,
# tolerance, reply_interval, caution, hold, poll, member prefix. -> {granted, wait in µs}
ACQUIRE = TIME + """
local high = ARGV[1] == '1'
local cost, n, window = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local interval, tolerance, reply_interval = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local caution, hold, poll = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', f(now - window))
local paused = tonumber(redis.call('GET', KEYS[4]) or '0')
local ready, tat, windowed = paused, 0, true
if high then
  if reply_interval > 0 then
    tat = tonumber(redis.call('GET', KEYS[3]) or '0')
    ready = math.max(ready, tat)
  end
  windowed = now < paused + caution
else
  tat = tonumber(redis.call('GET', KEYS[2]) or '0')
  ready = math.max(ready, tat - tolerance)
  local reply_waits = redis.call('PTTL', KEYS[5])
  if reply_waits > 0 then ready = math.max(ready, now + reply_waits / 1000) end
end
if windowed then
  local excess = redis.call('ZCARD', KEYS[1]) + cost - n
  if excess > 0 then
    local oldest = redis.call('ZRANGE', KEYS[1], excess - 1, excess - 1, 'WITHSCORES')
    local score = tonumber(oldest[2])  -- above now: in flight, it leaves after its answer
    if score > now then ready = math.max(ready, now + poll)
    else ready = math.max(ready, score + window, now + 1e-6) end
  end
end
if ready > now then
  if high and windowed then  -- a reply waits for the window: bulk lets it go first
    redis.call('SET', KEYS[5], '1', 'PX', ms(ready - now + poll))
  end
  return {0, math.ceil((ready - now) * 1e6)}
end
local in_flight = f(now + hold)
for i = 1, cost do redis.call('ZADD', KEYS[1], in_flight, ARGV[11] .. ':' .. i) end
redis.call('PEXPIRE', KEYS[1], ms(hold + window))
if high and reply_interval > 0 then
  tat = math.max(tat, now) + cost * reply_interval
  redis.call('SET', KEYS[3], f(tat), 'PX', ms(tat - now + 1))
elseif not high then
  tat = math.max(tat, now) + cost * interval
  redis.call('SET', KEYS[2], f(tat), 'PX', ms(tat - now + 1))
end
return {1, 0}
"""

# KEYS: log. ARGV: sent, member prefix, cost, window, hold.
RELEASE = TIME + """
local sent = ARGV[1] == '1'
for i = 1, tonumber(ARGV[3]) do
  if sent then redis.call('ZADD', KEYS[1], f(now), ARGV[2] .. ':' .. i)
  else redis.call('ZREM', KEYS[1], ARGV[2] .. ':' .. i) end
end
if sent then redis.call('PEXPIRE', KEYS[1], ms(tonumber(ARGV[5]) + tonumber(ARGV[4]))) end
return 1
"""

# KEYS: pause. ARGV: seconds, caution. -> 1 if the pause was extended.
PAUSE = TIME + """
local until_ = now + tonumber(ARGV[1])
if until_ > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], f(until_), 'PX', ms(tonumber(ARGV[1]) + tonumber(ARGV[2])))
  return 1
end
return 0
"""

# KEYS: chat. ARGV: op (acquire | release | unsent | note), gap, hold, previous.
# acquire -> {1, previous next-allowed time} or {0, wait in µs}.
CHAT = TIME + """
local op, gap = ARGV[1], tonumber(ARGV[2])
local raw = redis.call('GET', KEYS[1])
if op == 'acquire' then
  if raw == 'busy' then return {0, math.ceil(gap * 1e6)} end  -- its answer + gap, at least
  local next_ = tonumber(raw or '0')
  if next_ > now then return {0, math.ceil((next_ - now) * 1e6)} end
  redis.call('SET', KEYS[1], 'busy', 'PX', ms(tonumber(ARGV[3])))
  return {1, f(next_)}
elseif op == 'release' then
  redis.call('SET', KEYS[1], f(now + gap), 'PX', ms(gap))
elseif op == 'unsent' then  -- nothing left: the previous message's interval stands
  local previous = tonumber(ARGV[4])
  if previous > now then redis.call('SET', KEYS[1], f(previous), 'PX', ms(previous - now))
  else redis.call('DEL', KEYS[1]) end
elseif raw ~= 'busy' and tonumber(raw or '0') < now + gap then  -- note: a reply went out
  redis.call('SET', KEYS[1], f(now + gap), 'PX', ms(gap))
end
return {1, 0}
"""
