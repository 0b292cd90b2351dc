-- wrk script of async_bench.sh: POST "hi" to the URL given, and print one RESULT line at the end.
--
--   wrk ... -s async_bench.lua URL -- sync
--   wrk ... -s async_bench.lua URL -- async CALLBACK_URL IDS_FILE
--
-- async: each call carries X-Callback-Url, and the X-Call-Id of every 202 is kept (per thread,
-- in memory) and written to IDS_FILE, one a line, once the run is over: the bench checks that
-- each of them is called back. Other statuses count as refused.
-- RESULT: requests/s of 2xx answers, p50 us, p99 us, non-2xx answers, socket errors, 2xx answers.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- wrk builds the request from these settings once init has run.
function init(args)
  mode = args[1] or "sync"
  wrk.method = "POST"
  wrk.body = "hi"
  wrk.headers["Content-Type"] = "text/plain"
  if mode == "async" then
    wrk.headers["X-Callback-Url"] = args[2]
    ids_file = args[3]
    accepted = {}
    response = function(status, headers)
      if status == 202 then
        accepted[#accepted + 1] = headers["X-Call-Id"] or headers["x-call-id"]
      end
    end
  end
end

function done(summary, latency)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
                 summary.errors.timeout
  local ok = summary.requests - summary.errors.status
  local ids_file = threads[1]:get("ids_file")
  if ids_file then
    local out = assert(io.open(ids_file, "w"))
    for _, thread in ipairs(threads) do
      for _, id in ipairs(thread:get("accepted")) do
        out:write(id, "\n")
      end
    end
    out:close()
  end
  io.write(string.format("RESULT %.1f %.0f %.0f %d %d %d\n", ok / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), summary.errors.status, errors, ok))
end
