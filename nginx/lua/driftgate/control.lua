-- driftgate: the control channel of lua mode, served on the renderer's
-- loopback status listener (see templates/driftgate.lua.conf.njk, which also
-- restricts it to 127.0.0.1 and bounds the body size).
--
--   POST /driftgate/endpoints   a batch (batch.lua): validated whole, then
--                               written to the shared dict; 400 + reason and
--                               nothing changed when invalid
--   GET  /driftgate/endpoints   the applied generation and the boot id
--   GET  /driftgate/endpoints?dump=1
--                               every service set the dict holds, one
--                               "<name> <value>" line each after a first
--                               "gen <n>" line (checks and benchmarks)
--   GET  /driftgate/stats       per-service request / upstream-error counts
--
-- Shared dict `driftgate` keys: boot (random id, new when nginx starts, kept
-- across reloads), gen (last applied batch), seq (write counter),
-- s:<svc> (the service's set), v:<svc> (seq of its last write: workers
-- re-read s:<svc> when it changes), r:<svc> / e:<svc> (counters).
local batch = require "driftgate.batch"

local M = {}
local dict = ngx.shared.driftgate

-- Runs in the master at (re)load. The dict survives a reload (HUP) but not a
-- restart, so a boot id stored here tells the renderer which one happened.
function M.init()
  if dict:get("boot") then return end
  local f = io.open("/dev/urandom", "rb")
  local raw = f and f:read(8) or tostring(ngx.now()) .. tostring(math.random())
  if f then f:close() end
  dict:set("boot", (ngx.encode_base64(raw):gsub("[^%w]", "")))
  dict:set("gen", 0)
  dict:set("seq", 0)
end

local function state_json()
  return string.format('{"boot":"%s","generation":%d,"capacity":%d,"free":%d}\n',
    dict:get("boot") or "", dict:get("gen") or 0, dict:capacity(), dict:free_space())
end

local function reply(status, body)
  ngx.status = status
  ngx.header["Content-Type"] = status == 200 and "application/json" or "text/plain"
  ngx.print(body)
  return ngx.exit(status)
end

-- Writes one service; false, err when the dict is full (safe_set never
-- evicts another service's set to make room).
local function put(name, value, seq)
  local ok, err = dict:safe_set("s:" .. name, value)
  if not ok then return false, err end
  return dict:safe_set("v:" .. name, seq)
end

local function drop(name)
  dict:delete("s:" .. name)
  dict:delete("v:" .. name)
end

local function apply(b)
  local seq = dict:incr("seq", 1, 0)
  if b.full then
    for _, key in ipairs(dict:get_keys(0)) do
      local name = key:match("^s:(.+)$")
      if name and not b.set[name] then drop(name) end
    end
  end
  for name in pairs(b.del) do drop(name) end
  for name, value in pairs(b.set) do
    local ok, err = put(name, value, seq)
    if not ok then return false, err end
  end
  dict:set("gen", b.gen)
  return true
end

-- Every service set in the dict, for checks against what should be there.
local function dump()
  local parts = { "gen " .. tostring(dict:get("gen") or 0) }
  for _, key in ipairs(dict:get_keys(0)) do
    local name = key:match("^s:(.+)$")
    if name then
      local value = dict:get(key)
      if value then parts[#parts + 1] = name .. " " .. value end
    end
  end
  ngx.status = 200
  ngx.header["Content-Type"] = "text/plain"
  ngx.print(table.concat(parts, "\n"), "\n")
  return ngx.exit(200)
end

function M.endpoints()
  local method = ngx.req.get_method()
  if method == "GET" and ngx.var.arg_dump == "1" then return dump() end
  if method == "GET" then return reply(200, state_json()) end
  if method ~= "POST" then return reply(405, "GET or POST\n") end
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  -- nil: no body, or a body spooled to a file (larger than the buffer: the
  -- template sets the buffer to the size limit, so it cannot be valid).
  if not body then return reply(400, "refused: no body or body too large\n") end
  local b, reason = batch.parse(body)
  if not b then return reply(400, "refused: " .. reason .. "\n") end
  local ok, err = apply(b)
  if not ok then
    ngx.log(ngx.ERR, "driftgate: shared dict write failed: ", err)
    return reply(507, "shared dict full: " .. tostring(err) .. "\n")
  end
  return reply(200, state_json())
end

function M.stats()
  local parts = {}
  for _, key in ipairs(dict:get_keys(0)) do
    local name = key:match("^r:(.+)$")
    if name then
      parts[#parts + 1] = string.format('"%s":[%d,%d]', name, dict:get(key) or 0, dict:get("e:" .. name) or 0)
    end
  end
  return reply(200, string.format('{"boot":"%s","generation":%d,"capacity":%d,"free":%d,"services":{%s}}\n',
    dict:get("boot") or "", dict:get("gen") or 0, dict:capacity(), dict:free_space(), table.concat(parts, ",")))
end

return M
