-- wrk script: full loads of the demo's `GET /settings`, a page that reads the
-- session (the theme) on every request, the load of scripts/bench-http-settings.
--
-- Each wrk thread is one browser: its cookie is BENCH_COOKIE_N, issued by the
-- server with one settings write before the run, so every request reads a
-- session document that exists in the store. The page reads only; nothing is
-- written while the load runs.
--
-- Every reply that is not 2xx is counted. done() prints one line for the
-- driver:
-- bench requests=N seconds=S p50_ms=L p99_ms=L non2xx=N socket_errors=N

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("seed", #threads)
end

function init(args)
  local cookie = os.getenv("BENCH_COOKIE_" .. seed)
  if cookie == nil then
    error("BENCH_COOKIE_" .. seed .. " is not set: the server issued no cookie")
  end
  wrk.headers["Cookie"] = cookie
  non2xx = 0
end

function request()
  return wrk.format("GET", "/settings")
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    "bench requests=%d seconds=%.3f p50_ms=%.3f p99_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, bad, e.connect + e.read + e.write + e.timeout))
end
