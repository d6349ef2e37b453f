-- static.lua: the same POST as load.lua, built once (no per-request Lua), for the ceiling
-- row that shows what wrk itself costs. The send time is fixed, so latency is meaningless here.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"userId":"u1","sessionId":"s1","text":"hello","data":{"sentAt":0}}'
local out = os.getenv("BENCH_OUT")
function done(summary, latency, requests)
  local e = summary.errors
  local s = string.format('{"requests":%d,"durationUs":%d,"non2xx":%d,"connectErrors":%d,' ..
    '"readErrors":%d,"writeErrors":%d,"timeouts":%d,"statusErrors":%d,' ..
    '"latencyUs":{"p50":%d,"p99":%d,"max":%d}}',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max)
  local f = io.open(out, "w"); f:write(s .. "\n"); f:close()
end
