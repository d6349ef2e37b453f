-- load.lua: wrk script of the benchmark (tests/bench/run).
--
-- Every request gets its own user and session from a pool and its send time in µs
-- (CLOCK_REALTIME through LuaJIT's ffi gettimeofday: Debian's wrk is linked with LuaJIT;
-- os.time() only has seconds). wrk calls request() just before it writes the request, so the
-- timestamp is the send time.
--
-- Environment:
--   BENCH_FORMAT  palaver (default): {"userId","sessionId","text","data":{"sentAt":µs}}
--                 botframework: a Bot Framework Activity whose id is the send time (the echo
--                 bot's reply carries it back as replyToId) and whose serviceUrl is BENCH_SERVICE_URL
--   BENCH_POOL    number of distinct (user, session) pairs, default 1000
--   BENCH_RATE    0 (default): closed loop, as fast as the connections allow. N > 0: offered
--                 load of N requests/s over all threads, paced by delay() (each wrk thread claims
--                 send slots 1/(N/threads) s apart)
--   BENCH_THREADS wrk's -t (to split BENCH_RATE)
--   BENCH_CLOSE   1: send "Connection: close" (a new connection per request)
--   BENCH_OUT     file for the summary JSON written by done()
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now_us()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec)
end

local format = os.getenv("BENCH_FORMAT") or "palaver"
local pool = tonumber(os.getenv("BENCH_POOL") or "1000")
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local close = os.getenv("BENCH_CLOSE") == "1"
local service_url = os.getenv("BENCH_SERVICE_URL") or "http://127.0.0.1:18081/"
local out = os.getenv("BENCH_OUT")
-- BENCH_TEXT: the message text (default "hello"); JSON-safe text only
local text = os.getenv("BENCH_TEXT") or "hello"

local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local headers = { ["Content-Type"] = "application/json" }
if close then headers["Connection"] = "close" end

local idx, step, interval, next_slot
function init(args)
  -- thread k sends k, k+T, k+2T, ... so the threads together cycle through the whole pool
  idx = thread_index or 0
  step = nthreads
  non2xx = 0
  if rate > 0 then
    interval = 1000000 / (rate / nthreads)
    next_slot = 0
  end
end

function request()
  local i = idx % pool
  idx = idx + step
  local t = now_us()
  local body
  if format == "botframework" then
    body = string.format('{"type":"message","id":"%d","channelId":"bench","serviceUrl":"%s",' ..
      '"from":{"id":"u%d"},"recipient":{"id":"bot"},"conversation":{"id":"s%d"},"text":"%s"}',
      t, service_url, i, i, text)
  else
    body = string.format('{"userId":"u%d","sessionId":"s%d","text":"%s","data":{"sentAt":%d}}', i, i, text, t)
  end
  return wrk.format("POST", nil, headers, body)
end

if rate > 0 then
  function delay()
    local now = now_us()
    if next_slot < now then next_slot = now end
    local d = next_slot - now
    next_slot = next_slot + interval
    return math.floor(d / 1000)
  end
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + (t:get("non2xx") or 0) end
  local e = summary.errors
  local s = string.format('{"requests":%d,"durationUs":%d,"non2xx":%d,"connectErrors":%d,' ..
    '"readErrors":%d,"writeErrors":%d,"timeouts":%d,"statusErrors":%d,' ..
    '"latencyUs":{"p50":%d,"p99":%d,"max":%d}}',
    summary.requests, summary.duration, n, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max)
  if out then
    local f = io.open(out, "w"); f:write(s .. "\n"); f:close()
  else
    io.write(s .. "\n")
  end
end
