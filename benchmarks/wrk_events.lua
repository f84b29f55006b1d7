-- wrk script: POST one new event per request (unique event_id per thread and request).
-- Used by benchmarks/bench_http.py; wrk runs it, riskops answers each request only
-- after the event is durable in the log.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tid
  math.randomseed(tid * 7919)
end

local types = {"page.viewed", "login.failed", "login.succeeded", "coupon.claimed"}

request = function()
  counter = counter + 1
  local u = math.random(0, 19999)
  local kind = types[(counter % #types) + 1]
  local payload = "{}"
  if kind == "page.viewed" then
    payload = string.format('{"page":"/p/%d","dwell_ms":%d}', math.random(1, 5000), math.random(200, 60000))
  elseif kind == "coupon.claimed" then
    payload = string.format('{"coupon_code":"C%d","campaign_id":"11.11"}', math.random(1, 50))
  end
  local body = string.format(
    '{"event_id":"wrk-%d-%d-%d","type":"%s","occurred_at":"%s","market":"ID","user_id":"u%d",' ..
    '"device":{"fingerprint":"dev-%05d"},"ip":"10.%d.%d.%d","payload":%s}',
    os.time(), thread_id, counter, kind, os.date("!%Y-%m-%dT%H:%M:%SZ"), u, u % 15000,
    u % 200, math.floor(u / 200) % 250, math.random(1, 249), payload)
  return wrk.format("POST", "/v1/events", nil, body)
end

local non2xx = 0
response = function(status, headers, body)
  if status ~= 201 and status ~= 200 then
    non2xx = non2xx + 1
    if non2xx < 5 then print("unexpected status " .. status .. ": " .. body) end
  end
end
