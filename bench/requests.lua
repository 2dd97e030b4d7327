-- wrk script: send the request paths listed in a file (one per line), each thread its own share in
-- turn, with an empty POST (as IOTPay sends its notify); count answers whose body is not the expected one.
--   wrk -t THREADS -s bench/requests.lua URL -- PATHS_FILE EXPECTED_BODY THREADS
-- bench/load.py appends bench/report.lua, which prints the result line.
local threads = {}
SECOND_COUNT = "wrapped"  -- reported as wrapped=: how often a thread's share of the paths ran out
STATUS_ERRORS_ARE_BAD = true

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
