-- wrk script of bench/peer_bench.py: POST the GraphQL body in the file named by WRK_BODY_FILE,
-- with "Authorization: Bearer $WRK_TOKEN" when that is set, and count the answers that are not a
-- GraphQL success (a status other than 200, or an "errors" key) so that a fast failure can never
-- pass for throughput. Printed at the end as "bad responses: N".
local f = assert(io.open(os.getenv("WRK_BODY_FILE"), "rb"))
local body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
local token = os.getenv("WRK_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
end

function response(status, headers, answer)
  -- A string value containing "errors": would be escaped (\"errors\":), so this finds the key only.
  if status ~= 200 or string.find(answer, '"errors":', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
  end
  io.write(string.format("bad responses: %d\n", total))
end
