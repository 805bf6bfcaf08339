-- One script for every scenario; BENCH_SCENARIO picks the request it makes.
package.path = os.getenv("BENCH_DIR") .. "/wrk/?.lua;" .. package.path
local common = require("common")

local data = os.getenv("BENCH_DATA")
local scenario = os.getenv("BENCH_SCENARIO")
local auth = common.credentials(data)
local users = common.users(data)
local counter = 0
-- wrk does not seed Lua's generator, so every run would draw the same users and create
-- the same emails: seed it, and tag created users, from the kernel's randomness.
local function random_seed()
  local source = io.open("/dev/urandom", "rb")
  local bytes = source:read(4)
  source:close()
  local seed = 0
  for i = 1, #bytes do
    seed = seed * 256 + bytes:byte(i)
  end
  return seed
end
math.randomseed(random_seed())
local thread_tag = tostring(math.random(100000, 999999))

local function user_path(u)
  return "/v2/accounts/" .. u.sid .. "/users/" .. u.user
end

local makers = {
  get_user = function(u)
    return wrk.format("GET", user_path(u), { Authorization = auth[u.sid] })
  end,
  get_user_devices = function(u)
    return wrk.format("GET", user_path(u) .. "?fields=devices", { Authorization = auth[u.sid] })
  end,
  list_users = function(u)
    local path = "/v2/accounts/" .. u.sid .. "/users?limit=20&fields=devices"
    return wrk.format("GET", path, { Authorization = auth[u.sid] })
  end,
  device_put = function(u)
    -- Walks the softphones in order, switching each ON on the first pass and OFF on the
    -- next, so every request is a real write.
    counter = counter + 1
    local v = users[((counter - 1) % #users) + 1]
    local on = (math.floor((counter - 1) / #users) % 2) == 0
    local body = on and '{"available":true}' or '{"available":false}'
    local path = user_path(v) .. "/devices/" .. v.sip
    return wrk.format("PUT", path, { Authorization = auth[v.sid], ["Content-Type"] = "application/json" }, body)
  end,
  create_user = function(u)
    counter = counter + 1
    local n = thread_tag .. string.format("%07d", counter)
    local body = '{"first_name":"Bench","last_name":"User","email":"b' .. n .. '@bench.example.com",'
      .. '"device_contact_uri":"+1' .. string.sub(n, -12) .. '"}'
    return wrk.format("POST", "/v2/accounts/" .. u.sid .. "/users",
      { Authorization = auth[u.sid], ["Content-Type"] = "application/json" }, body)
  end,
  unauthorized = function(u)
    return wrk.format("GET", user_path(u), { Authorization = "Basic YmFkOmtleQ==" })
  end,
  rate_limited = function(u)
    return wrk.format("GET", "/v2/accounts/limited/users/9f7100ea9a484b75aadefa94303f62eb",
      { Authorization = auth["limited"] })
  end,
}

local make = makers[scenario]

-- Requests are built once, before the run: formatting one per request in Lua costs wrk
-- more than the reference server spends answering it, and the load generator must never
-- be the bottleneck. A sample of random users is cycled through; writes that must differ
-- each time (create) are still built per request.
local POOL = 50000
local pool = {}
local next_request = 0

if scenario == "device_put" then
  -- Softphones in windows of 1,000: all ON, then the same ones OFF, then the next window.
  -- The window is far wider than the requests in flight, so ON and OFF of one device are
  -- never reordered; a run that stops mid-window leaves at most one window ON, so at most
  -- 2% of the next cycle are no-op writes.
  local window = 1000
  local count = math.min(#users, POOL / 2)
  for first = 1, count, window do
    local last = math.min(first + window - 1, count)
    for pass = 0, 1 do
      for i = first, last do
        counter = (pass * #users) + i
        pool[#pool + 1] = make(users[i])
      end
    end
  end
elseif scenario ~= "create_user" then
  for i = 1, POOL do
    pool[i] = make(users[math.random(1, #users)])
  end
end

request = function()
  if #pool == 0 then
    return make(users[math.random(1, #users)])
  end
  next_request = next_request % #pool + 1
  return pool[next_request]
end
