-- wrk script for scripts/bench/serve.sh: sends `Authorization: Bearer $BENCH_TOKEN` on every
-- request. With BENCH_IDS_FILE (one id a line) set, each request appends the next id from that
-- file to the URL's path (give wrk a URL ending in `/`), so GET-by-id runs spread over many rows
-- instead of hitting one cached page; without it, every request goes to the URL as given.

local token = os.getenv("BENCH_TOKEN")
if token == nil or token == "" then
  error("BENCH_TOKEN is not set")
end
wrk.headers["Authorization"] = "Bearer " .. token

local ids = {}
local ids_file = os.getenv("BENCH_IDS_FILE")
if ids_file ~= nil and ids_file ~= "" then
  local file = assert(io.open(ids_file, "r"))
  for line in file:lines() do
    if line ~= "" then
      ids[#ids + 1] = line
    end
  end
  file:close()
  if #ids == 0 then
    error("no ids in " .. ids_file)
  end
end

local next_index = 1

function init(args)
  -- Each wrk thread has its own Lua state: start them at different places in the id list.
  local address = tonumber(string.match(tostring({}), "0x(%x+)") or "0", 16) or 0
  math.randomseed(os.time() + address)
  next_index = math.random(1, math.max(#ids, 1))
end

if #ids > 0 then
  function request()
    local id = ids[next_index]
    next_index = next_index % #ids + 1
    return wrk.format(nil, wrk.path .. id)
  end
end
