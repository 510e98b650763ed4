-- wrk script for bench/http/run.ts: cycles through pre-formatted requests, one per session cookie
-- value (args: cookie file, Host header; an empty file name sends no cookie), and prints the
-- summary as one JSON line (latencies in microseconds) for the harness to parse.
local reqs = {}
local idx = 0

function init(args)
  local file, host = args[1], args[2]
  if file ~= nil and file ~= "" then
    for line in io.lines(file) do
      reqs[#reqs + 1] = wrk.format("GET", wrk.path, { ["Host"] = host, ["Cookie"] = "session=" .. line })
    end
  end
  if #reqs == 0 then reqs[1] = wrk.format("GET", wrk.path, { ["Host"] = host }) end
end

function request()
  idx = idx % #reqs + 1
  return reqs[idx]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50Us":%d,"p90Us":%d,"p99Us":%d,"p999Us":%d,"maxUs":%d,"meanUs":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
