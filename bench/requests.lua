-- wrk script: send the request paths listed in a file (one per line), each thread its own share in
-- turn, with an empty POST (as IOTPay sends its notify); count answers whose body is not the expected one.
--   wrk -t THREADS -s bench/requests.lua URL -- PATHS_FILE EXPECTED_BODY THREADS
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  expected = args[2]
  step = tonumber(args[3])
  index = id % #paths + 1
  wrapped = 0
  bad = 0
  sample = ""
end

function request()
  local path = paths[index]
  index = index + step
  if index > #paths then
    index = (index - 1) % #paths + 1
    wrapped = wrapped + 1
  end
  return wrk.format("POST", path, {["Content-Length"] = "0"}, "")
end

function response(status, headers, body)
  if body ~= expected then
    bad = bad + 1
    if sample == "" then sample = tostring(status) .. " " .. string.sub(body, 1, 200) end
  end
end

function done(summary, latency, requests)
  local bad_total, wrapped_total, sample = 0, 0, ""
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    wrapped_total = wrapped_total + thread:get("wrapped")
    if sample == "" then sample = thread:get("sample") end
  end
  io.write(string.format(
    "BENCH requests=%d seconds=%f p50=%f p99=%f bad=%d wrapped=%d socket_errors=%d sample=%s\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    bad_total, wrapped_total,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status,
    sample))
end
