-- Shared by the scenario scripts: reads the seeded dataset named by the environment
-- (BENCH_DATA) into tables of request paths and Authorization headers.
local common = {}

function common.credentials(data)
  local auth = {}
  for line in io.lines(data .. "/credentials.tsv") do
    local sid, _, _, header = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)")
    auth[sid] = header
  end
  return auth
end

function common.users(data)
  local users = {}
  for line in io.lines(data .. "/users.tsv") do
    local sid, user, tel, sip = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)")
    users[#users + 1] = { sid = sid, user = user, tel = tel, sip = sip }
  end
  return users
end

return common
