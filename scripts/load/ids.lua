-- Random ids in hyperstate's text form, for the wrk scripts (require "ids").
--
-- Ids are URL-safe base64 without padding: a page id is 22 bytes (30
-- characters), a browser id 16 bytes (22 characters). Both leave 2 bits in the
-- last character, so it must be one of "AQgw" (zero padding bits) for the
-- server to accept the id. A random page id also carries a random issue time;
-- with the default expired-page policy the server treats it like any unknown
-- page.

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local last_chars = { "A", "Q", "g", "w" }

local ids = {}

local function random_id(length)
  local chars = {}
  for i = 1, length - 1 do
    local r = math.random(1, 64)
    chars[i] = alphabet:sub(r, r)
  end
  chars[length] = last_chars[math.random(1, 4)]
  return table.concat(chars)
end

function ids.page_id() return random_id(30) end

function ids.browser_id() return random_id(22) end

return ids
