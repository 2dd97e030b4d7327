-- The end of every bench wrk script (bench/load.py appends it to requests.lua or creates.lua): one
-- line for bench/load.py with the counts of every thread. The script names its threads `threads`,
-- its second count SECOND_COUNT, and says whether wrk's status errors are wrong answers.
function done(summary, latency, requests)
  local bad_total, second_total, sample = 0, 0, ""
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    second_total = second_total + thread:get(SECOND_COUNT)
    if sample == "" then sample = thread:get("sample") end
  end
  local socket_errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  if STATUS_ERRORS_ARE_BAD then socket_errors = socket_errors + summary.errors.status end
  io.write(string.format(
    "BENCH requests=%d seconds=%f p50=%f p99=%f bad=%d wrapped=%d socket_errors=%d sample=%s\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    bad_total, second_total, socket_errors, sample))
end
