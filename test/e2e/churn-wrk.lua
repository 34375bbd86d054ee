-- wrk script of the churn test's lean load (wrk never retries a request).
-- Args after `--`: <host header> <get|post|close>.
--   get:   keep-alive GETs;  post: keep-alive POSTs with a small body
--   (non-idempotent: nobody may replay them);  close: `Connection: close`,
--   one connection per request.
-- Every answer goes through response(): statuses are counted, and each
-- non-2xx answer is kept with its wall-clock time (ms, through LuaJIT's ffi)
-- so the test can say which churn cycle it fell in (e.g. a POST in flight on
-- a container `docker kill` ended). Socket errors have no hook in wrk: they
-- are in wrk's summary (errors.connect/read/write/timeout) and count as
-- failed. done() prints one line: `DGRESULT {json}`.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } dg_timeval;
int gettimeofday(dg_timeval *tv, void *tz);
]]
local tv = ffi.new("dg_timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

local threads = {}
function setup(thread) table.insert(threads, thread) end

function init(args)
  local host, kind = args[1], args[2] or "get"
  wrk.headers["Host"] = host
  if kind == "post" then
    wrk.method = "POST"
    wrk.body = "driftgate=churn\n"
    wrk.headers["Content-Type"] = "text/plain"
  elseif kind == "close" then
    wrk.headers["Connection"] = "close"
  end
  ok, bad, fails = 0, 0, {}
end

function response(status, headers, body)
  if status >= 200 and status <= 299 then
    ok = ok + 1
  else
    bad = bad + 1
    -- bounded: the test needs the first few for attribution, the count for the verdict
    if #fails < 2000 then fails[#fails + 1] = string.format("%.3f:%d", now_ms(), status) end
  end
end

function done(summary, latency, requests)
  local okN, badN, failList = 0, 0, {}
  for _, t in ipairs(threads) do
    okN = okN + t:get("ok")
    badN = badN + t:get("bad")
    for _, f in ipairs(t:get("fails")) do failList[#failList + 1] = '"' .. f .. '"' end
  end
  local e = summary.errors
  io.write(string.format(
    'DGRESULT {"requests":%d,"ok":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"durationUs":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d,"fails":[%s]}\n',
    summary.requests, okN, badN, e.connect, e.read, e.write, e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max, table.concat(failList, ",")))
end
