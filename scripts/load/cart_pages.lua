-- wrk script: htmx actions on pages that each hold a small cart, the load of
-- scripts/bench-http.
--
-- Every request is the demo's `POST /cart/items` (name=x) as htmx sends it
-- from a page: HX-Request, the page id in X-Page-Id, the browser-id cookie,
-- and a same-origin Origin and Sec-Fetch-Site, so the layer's CSRF check and
-- page lookup run as they do for a real page. The cookie of thread N is
-- BENCH_COOKIE_N, issued by the server (it honours only cookies it signed);
-- without it (the bare baseline sets none) a random id stands in. Each wrk
-- thread is one browser
-- with CART_PAGES pages (tabs; scripts/bench-http passes its connection count)
-- and sends to them in turn, so a page seldom has two requests in flight.
-- After CART_ITEMS requests a page is replaced by a new one: carts hold 1 to
-- CART_ITEMS items however long the run, so the rendering cost stays the same.
-- X-Bench-Items is the count the cart reaches with the request; the demo
-- ignores it, the bare baseline renders that many items.
--
-- Every reply that is not 2xx is counted. done() prints one line for the
-- driver: bench requests=N seconds=S p99_ms=L non2xx=N socket_errors=N

package.path = "scripts/load/?.lua;" .. package.path -- run from the repository root
local ids = require "ids"
local pages = tonumber(os.getenv("CART_PAGES") or "1")
local cart_items = tonumber(os.getenv("CART_ITEMS") or "10")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("seed", #threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + seed)
  cookie = os.getenv("BENCH_COOKIE_" .. seed) or ("hs_bid=" .. ids.browser_id())
  origin = "http://" .. wrk.headers["Host"]
  page_ids, counts, turn, non2xx = {}, {}, 0, 0
  for i = 1, pages do
    page_ids[i] = ids.page_id()
    counts[i] = 0
  end
end

function request()
  turn = turn % pages + 1
  local count = counts[turn] + 1
  if count > cart_items then
    page_ids[turn] = ids.page_id()
    count = 1
  end
  counts[turn] = count
  return wrk.format("POST", "/cart/items", {
    ["HX-Request"] = "true",
    ["X-Page-Id"] = page_ids[turn],
    ["X-Bench-Items"] = tostring(count),
    ["Cookie"] = cookie,
    ["Origin"] = origin,
    ["Sec-Fetch-Site"] = "same-origin",
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "name=x")
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
    "bench requests=%d seconds=%.3f p99_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(99) / 1000, bad,
    e.connect + e.read + e.write + e.timeout))
end
