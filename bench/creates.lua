-- wrk script: POST the same JSON order to one path on every connection, as a checkout backend does;
-- 201 is right, 504 (the provider did not answer in time: the order stays pending) is counted apart,
-- anything else is wrong.
--   wrk -t THREADS -s bench/creates.lua URL -- PATH BODY_FILE
-- bench/load.py appends bench/report.lua, which prints the result line.
local threads = {}
SECOND_COUNT = "timeouts"  -- reported as wrapped=: the 504s
STATUS_ERRORS_ARE_BAD = false  -- a 504 is a status error to wrk, and counted apart here

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
  -- the API key of bench/servers.py (API_KEY)
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer bench-api-key-0123456789abcdef"}
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, answer)
  if status == 504 then
    timeouts = timeouts + 1
  elseif status ~= 201 then
    bad = bad + 1
    if sample == "" then sample = tostring(status) .. " " .. string.sub(answer, 1, 200) end
  end
end
