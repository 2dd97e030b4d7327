-- wrk script: POST the same JSON order to one path on every connection, as a checkout backend does;
-- 201 is right, 504 (the provider did not answer in time: the order stays pending) is counted apart,
-- anything else is wrong.
--   wrk -t THREADS -s bench/creates.lua URL -- PATH BODY_FILE
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  path = args[1]
  local file = io.open(args[2], "rb")
  body = file:read("*a")
  file:close()
  bad = 0
  timeouts = 0
  sample = ""
end

function request()
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, answer)
  if status == 504 then
    timeouts = timeouts + 1
  elseif status ~= 201 then
    bad = bad + 1
    if sample == "" then sample = tostring(status) .. " " .. string.sub(answer, 1, 200) end
  end
end

function done(summary, latency, requests)
  local bad_total, timeouts_total, sample = 0, 0, ""
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    timeouts_total = timeouts_total + thread:get("timeouts")
    if sample == "" then sample = thread:get("sample") end
  end
  io.write(string.format(
    "BENCH requests=%d seconds=%f p50=%f p99=%f bad=%d wrapped=%d socket_errors=%d sample=%s\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    bad_total, timeouts_total,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    sample))
end
