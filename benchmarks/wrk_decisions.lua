-- wrk script: POST one new order.placed event per request to the order checkpoint
-- (unique event_id per thread and request; 500 users, so velocity features build up).
-- Optional script argument (after `--`): a mean pause in ms before each request, which paces
-- every connection (offered load ~ connections * 1000 / pause while latency << pause). The
-- pause is drawn uniformly from 0.5x to 1.5x so that connections do not send in lockstep.
local counter = 0
local pause = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(tid * 7919)
  if args[1] then pause = tonumber(args[1]) end
end

function delay()
  if pause == 0 then return 0 end
  return math.floor(pause * (0.5 + math.random()))
end

request = function()
  counter = counter + 1
  local u = math.random(0, 499)
  local method = (counter % 3 == 0) and "card" or "cod"
  local body = string.format(
    '{"event_id":"wd-%d-%d-%d","type":"order.placed","occurred_at":"%s","market":"ID",' ..
    '"user_id":"u%d","device":{"fingerprint":"dev-%d"},"ip":"10.1.%d.%d","payload":{' ..
    '"order_id":"o-%d-%d","items":[{"sku":"s1","merchant_id":"m1","price":%d,"qty":1}],' ..
    '"currency":"USD","payment_method":"%s","payment_instrument":"tok-%d"}}',
    os.time(), tid, counter, os.date("!%Y-%m-%dT%H:%M:%SZ"), u, u % 400, u % 200,
    u % 250 + 1, tid, counter, 20 + counter % 300, method, u)
  return wrk.format("POST", "/v1/decisions/order", nil, body)
end

local bad = 0
response = function(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    if bad < 5 then print("unexpected status " .. status .. ": " .. body) end
  end
end
