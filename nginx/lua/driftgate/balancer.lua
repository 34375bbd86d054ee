-- driftgate: the per-request peer choice of lua mode (balancer_by_lua).
--
-- Each worker keeps its own copy of a service's set, re-read from the shared
-- dict only when the service's version key changed (one dict read per
-- request). What is per worker, as in nginx's own upstream module without a
-- `zone`: round-robin position, passive health (failures / fail_timeout) and,
-- unlike nginx's least_conn, the in-flight counts that least_conn and random
-- compare (nginx counts per worker too unless the upstream has a zone).
local ngx_balancer = require "ngx.balancer"
local batch = require "driftgate.batch"

local M = {}
local dict = ngx.shared.driftgate
local sets = {}      -- service → { v, method, max_fails, fail_timeout, peers }
local health = {}    -- "ip:port" → { fails, first, down_until }
local inflight = {}  -- "ip:port" → requests in flight from this worker

-- Where a service without a live endpoint is sent: the template's 503 listener.
M.fallback_ip = "127.0.0.2"
M.fallback_port = 8597

local function current(name)
  local v = dict:get("v:" .. name)
  local set = sets[name]
  if set and set.v == v then return set end
  local value = v and dict:get("s:" .. name)
  if not value then sets[name] = nil; return nil end
  set = batch.decode(value)
  set.v = v
  -- carry the smooth round-robin weights of peers that stay
  if sets[name] then
    local old = {}
    for _, p in ipairs(sets[name].peers) do old[p.key] = p.cw end
    for _, p in ipairs(sets[name].backups or {}) do old[p.key] = p.cw end
    for _, p in ipairs(set.peers) do p.cw = old[p.key] or 0 end
    for _, p in ipairs(set.backups) do p.cw = old[p.key] or 0 end
  end
  sets[name] = set
  return set
end

local function usable(set, p, tried, now)
  if tried[p.key] then return false end
  local h = health[p.key]
  return not (set.max_fails > 0 and h and h.down_until and now < h.down_until)
end

-- nginx's smooth weighted round robin over the candidates.
local function pick_rr(cands)
  local total, best = 0, nil
  for _, p in ipairs(cands) do
    p.cw = (p.cw or 0) + p.weight
    total = total + p.weight
    if not best or p.cw > best.cw then best = p end
  end
  best.cw = best.cw - total
  return best
end

local function load_of(p) return (inflight[p.key] or 0) / p.weight end

local function pick_least(cands)
  local best, ties = nil, {}
  for _, p in ipairs(cands) do
    if not best or load_of(p) < load_of(best) then best = p; ties = { p }
    elseif load_of(p) == load_of(best) then ties[#ties + 1] = p end
  end
  return #ties > 1 and pick_rr(ties) or best
end

local function pick_weighted_random(cands)
  local total = 0
  for _, p in ipairs(cands) do total = total + p.weight end
  local r = math.random() * total
  for _, p in ipairs(cands) do
    r = r - p.weight
    if r < 0 then return p end
  end
  return cands[#cands]
end

-- nginx's `random two least_conn`: two weighted random picks, the less loaded.
local function pick_random(cands)
  local a, b = pick_weighted_random(cands), pick_weighted_random(cands)
  return load_of(b) < load_of(a) and b or a
end

-- nginx's ip_hash keys on the first three octets of an IPv4 client.
local function pick_hash(set, cands)
  local addr = ngx.var.remote_addr or ""
  local key = addr:match("^(%d+%.%d+%.%d+)%.") or addr
  local all = set.peers
  local start = ngx.crc32_short(key) % #all
  for i = 0, #all - 1 do
    local p = all[(start + i) % #all + 1]
    for _, c in ipairs(cands) do if c == p then return p end end
  end
  return cands[1]
end

local function pick(set, peers, cands)
  local m = set.method
  if m == "least_conn" then return pick_least(cands) end
  if m == "random" then return pick_random(cands) end
  if m == "ip_hash" then return pick_hash({ peers = peers }, cands) end
  return pick_rr(cands)
end

local function usable_of(set, peers, tried, now)
  local cands = {}
  for _, p in ipairs(peers) do if usable(set, p, tried, now) then cands[#cands + 1] = p end end
  return cands
end

local function untried_of(peers, tried)
  local cands = {}
  for _, p in ipairs(peers) do if not tried[p.key] then cands[#cands + 1] = p end end
  return cands
end

-- Local peers first; another site's (failover backups) only when no local
-- peer is usable, as nginx does with `backup` servers. Spill: a try after a
-- failed local one goes to a usable backup first.
local function choose(set, tried, spill_now)
  local now = ngx.now()
  local backups = set.backups or {}
  if spill_now and #backups > 0 then
    local b = usable_of(set, backups, tried, now)
    if #b > 0 then return pick(set, backups, b) end
  end
  local cands = usable_of(set, set.peers, tried, now)
  if #cands > 0 then return pick(set, set.peers, cands) end
  cands = usable_of(set, backups, tried, now)
  if #cands > 0 then return pick(set, backups, cands) end
  -- every untried peer is marked down: like nginx, try them anyway rather
  -- than fail the request outright (local ones first)
  cands = untried_of(set.peers, tried)
  if #cands > 0 then return pick(set, set.peers, cands) end
  cands = untried_of(backups, tried)
  if #cands > 0 then return pick(set, backups, cands) end
  return nil
end

local function failed(ctx)
  local key = ctx.peer
  if not key then return end
  dict:incr("e:" .. ctx.name, 1, 0)
  local set = ctx.set
  if set.max_fails == 0 then return end
  local now = ngx.now()
  local h = health[key]
  if not h or now - h.first > set.fail_timeout then h = { fails = 0, first = now }; health[key] = h end
  h.fails = h.fails + 1
  if h.fails >= set.max_fails then h.down_until = now + set.fail_timeout end
end

local function release(ctx)
  local key = ctx.peer
  if key and inflight[key] then inflight[key] = math.max(0, inflight[key] - 1) end
  ctx.peer = nil
end

-- balancer_by_lua: called once per try of a request.
function M.balance(name)
  local ctx = ngx.ctx.driftgate
  if not ctx then
    local set = current(name)
    ctx = { name = name, set = set, tried = {} }
    ngx.ctx.driftgate = ctx
    dict:incr("r:" .. name, 1, 0)
    local all = set and #set.peers + #(set.backups or {}) or 0
    if all == 0 then
      ctx.empty = true
      return ngx_balancer.set_current_peer(M.fallback_ip, M.fallback_port)
    end
    -- retries to the next peer on a connect error (proxy_next_upstream);
    -- nginx also caps them with proxy_next_upstream_tries
    if all > 1 then ngx_balancer.set_more_tries(all - 1) end
  else
    -- "failed": connect error, timeout or a proxy_next_upstream http_* code
    -- (nginx counts those against max_fails); "next": 403/404, not counted
    local state = ngx_balancer.get_last_failure()
    if state == "failed" then failed(ctx); ctx.spill_now = ctx.set.spill end
    release(ctx)
  end
  if ctx.empty then return ngx_balancer.set_current_peer(M.fallback_ip, M.fallback_port) end
  local p = choose(ctx.set, ctx.tried, ctx.spill_now)
  if not p then return ngx.exit(ngx.ERROR) end
  ctx.tried[p.key] = true
  ctx.peer = p.key
  inflight[p.key] = (inflight[p.key] or 0) + 1
  local ok, err = ngx_balancer.set_current_peer(p.ip, p.port)
  if not ok then ngx.log(ngx.ERR, "driftgate: set_current_peer ", p.key, ": ", err) end
end

-- log_by_lua (http level): the last try's outcome and the in-flight count.
function M.log()
  local ctx = ngx.ctx.driftgate
  if not ctx or ctx.empty then return end
  -- no response header from the last try: an error or timeout (an app's
  -- own 502 has a header and is not a failure, as in nginx without http_502)
  local header = (ngx.var.upstream_header_time or ""):match("([%d.-]+)%s*$")
  if header == "-" then failed(ctx)
  elseif ctx.peer then health[ctx.peer] = nil end
  release(ctx)
end

return M
