-- wrk script: every request creates a fresh page with a small write, the way a
-- flood of new visitors (or an attacker minting page ids) would.
--
-- Each request is an htmx POST /cart/items with a new random, well-formed page id
-- and no cookie, so each one also mints a browser id. Stops after `total`
-- requests in all (FLOOD_REQUESTS, split over the threads).

package.path = "scripts/load/?.lua;" .. package.path -- run from the repository root
local ids = require "ids"
local total = tonumber(os.getenv("FLOOD_REQUESTS") or "1000000")
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
  per_thread = math.ceil(total / #threads_count_hint())
  sent = 0
end

function threads_count_hint()
  -- wrk does not tell a thread how many threads there are; FLOOD_THREADS does.
  local n = tonumber(os.getenv("FLOOD_THREADS") or "2")
  local t = {}
  for i = 1, n do t[i] = i end
  return t
end

function request()
  sent = sent + 1
  if sent > per_thread then
    wrk.thread:stop()
  end
  return wrk.format("POST", "/cart/items", {
    ["HX-Request"] = "true",
    ["X-Page-Id"] = ids.page_id(),
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "name=x")
end
