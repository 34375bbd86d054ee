-- driftgate: parsing and validating one endpoint batch pushed by the renderer.
-- Pure Lua (no ngx API) so that every rule is in one place. A batch is text,
-- one record per line (no JSON library needed: Debian's nginx Lua module ships
-- without cjson):
--
--   driftgate 1                       first line: format version
--   gen <n>                           the renderer's generation for this batch
--   full                              optional: services not listed are removed
--   svc <name> <method> <maxFails> <failTimeoutMs> [<ip>:<port>:<weight>[:b|:s] ...]
--   del <name>
--
-- A peer ending in `:b` is another site's endpoint (spec failover, backup
-- mode): used only when no local peer can take the try. `:s` (spill mode)
-- also takes the retry of a try that failed on a local peer.
--
-- The whole batch is checked before anything is written: one bad address,
-- port, weight or name refuses the batch and the previous set keeps serving.
local M = {}

M.METHODS = { round_robin = true, least_conn = true, ip_hash = true, random = true }
M.MAX_PEERS = 1000          -- per service
M.MAX_FAIL_TIMEOUT_MS = 86400000
M.MAX_LINES = 200000

local function valid_name(s)
  -- a DNS label: what the renderer's model allows for a service name
  return #s <= 63 and s:find("^[a-z0-9][a-z0-9-]*$") ~= nil and s:sub(-1) ~= "-"
end

local function int_in(s, lo, hi)
  if s == nil or not s:find("^%d+$") or #s > 10 then return nil end
  local n = tonumber(s)
  if n < lo or n > hi then return nil end
  return n
end

local function valid_ipv4(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return false end
  for _, o in ipairs({ a, b, c, d }) do
    if #o > 3 or (#o > 1 and o:sub(1, 1) == "0") or tonumber(o) > 255 then return false end
  end
  return true
end

-- One peer "ip:port:weight[:b|:s]" → ip, port, weight, kind or nil, reason.
local function parse_peer(tok)
  local ip, port, weight, kind = tok:match("^([%d.]+):(%d+):(%d+)$")
  if not ip then
    ip, port, weight, kind = tok:match("^([%d.]+):(%d+):(%d+):([bs])$")
  end
  if not ip or not valid_ipv4(ip) then return nil, "bad address " .. tok:sub(1, 40) end
  local p = int_in(port, 1, 65535)
  if not p then return nil, "bad port in " .. tok:sub(1, 40) end
  local w = int_in(weight, 1, 100)
  if not w then return nil, "bad weight in " .. tok:sub(1, 40) end
  return ip, p, w, kind
end

local function split(line)
  local out = {}
  for tok in line:gmatch("%S+") do out[#out + 1] = tok end
  return out
end

-- A service line's fields after "svc <name>": validated, returns the stored
-- value (the same text, normalised) or nil, reason.
local function parse_service(f)
  local name = f[2]
  if not name or not valid_name(name) then return nil, "bad service name" end
  if not M.METHODS[f[3] or ""] then return nil, "bad method for " .. name end
  if not int_in(f[4], 0, 1000) then return nil, "bad maxFails for " .. name end
  if not int_in(f[5], 0, M.MAX_FAIL_TIMEOUT_MS) then return nil, "bad failTimeoutMs for " .. name end
  if #f - 5 > M.MAX_PEERS then return nil, "too many peers for " .. name end
  local kinds = nil
  for i = 6, #f do
    local ok, reason, _, kind = parse_peer(f[i])
    if not ok then return nil, reason .. " for " .. name end
    if kind then
      if kinds and kinds ~= kind then return nil, "mixed :b and :s peers for " .. name end
      kinds = kind
    end
  end
  return table.concat(f, " ", 3)
end

-- Parses a whole batch. Returns { gen, full, set = {name → value}, del = {name} }
-- or nil, reason.
function M.parse(body)
  if type(body) ~= "string" or body == "" then return nil, "empty body" end
  local b = { set = {}, del = {}, full = false }
  local n = 0
  for line in body:gmatch("[^\n]+") do
    n = n + 1
    if n > M.MAX_LINES then return nil, "too many lines" end
    local f = split(line)
    local kind = f[1]
    if n == 1 then
      if kind ~= "driftgate" or f[2] ~= "1" or #f ~= 2 then return nil, "first line must be: driftgate 1" end
    elseif kind == "gen" then
      b.gen = int_in(f[2], 0, 9007199254740991)
      if not b.gen or #f ~= 2 then return nil, "bad gen line" end
    elseif kind == "full" and #f == 1 then
      b.full = true
    elseif kind == "svc" then
      local value, reason = parse_service(f)
      if not value then return nil, reason end
      if b.set[f[2]] or b.del[f[2]] then return nil, "service listed twice: " .. f[2] end
      b.set[f[2]] = value
    elseif kind == "del" then
      if #f ~= 2 or not valid_name(f[2]) then return nil, "bad del line" end
      if b.set[f[2]] or b.del[f[2]] then return nil, "service listed twice: " .. f[2] end
      b.del[f[2]] = true
    else
      return nil, "unknown line " .. n
    end
  end
  if n == 0 then return nil, "empty body" end
  if not b.gen then return nil, "missing gen line" end
  return b
end

-- A stored service value → { method, max_fails, fail_timeout (s), peers = {...} }.
function M.decode(value)
  local f = split(value)
  local s = { method = f[1], max_fails = tonumber(f[2]), fail_timeout = tonumber(f[3]) / 1000, peers = {} }
  s.backups = {}
  for i = 4, #f do
    local ip, port, weight, kind = f[i]:match("^([%d.]+):(%d+):(%d+):?([bs]?)$")
    local peer = { ip = ip, port = tonumber(port), weight = tonumber(weight), key = ip .. ":" .. port }
    if kind == "" then s.peers[#s.peers + 1] = peer
    else s.backups[#s.backups + 1] = peer; s.spill = kind == "s" end
  end
  return s
end

return M
