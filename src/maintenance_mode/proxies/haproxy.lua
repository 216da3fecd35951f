-- maintenance-mode: serves the static export in the folder of this file to HAProxy
-- (written by every export; loaded once with `lua-load`, it reads the files on each
-- answer, so a new export needs no reload).
local dir = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") .. "/current/"
local status_path = "{{ status_path }}"
local default_language = "{{ default }}"
local languages = { {% for tag in languages %}["{{ tag | lower }}"] = "{{ tag }}", {% endfor %}}

local function slurp(name)
  local file = io.open(dir .. name, "rb")
  if not file then return nil end
  local data = file:read("a")
  file:close()
  return data
end

-- A header's values, repeated lines joined with commas (as HTTP allows).
local function header_value(headers, name)
  local values = headers[name]
  if values == nil then return "" end
  local joined = values[0] or ""
  local i = 1
  while values[i] ~= nil do joined, i = joined .. "," .. values[i], i + 1 end
  return joined
end

-- The best language with a page, by quality (fr-CA falls back to fr).
local function language(header)
  local best, best_q = default_language, -1
  for item in header:gmatch("[^,]+") do
    local tag, params = item:match("^%s*([%w%-_%*]+)%s*(.*)$")
    if tag then
      local q = tonumber(params:match("q%s*=%s*([%d%.]+)") or "1") or 0
      tag = tag:lower():gsub("_", "-")
      local found = languages[tag] or languages[tag:match("^(%a+)") or ""]
      if found and q > best_q and q > 0 then best, best_q = found, q end
    end
  end
  return best
end

-- The variant as the app picks it (render.negotiate): no Accept, or an empty one, is an API
-- client (problem+json); an overlong one gets the page; else the offered type with the
-- highest q wins, a more specific range first at equal q, then the app's order.
local offered = {
  { "application", "problem+json", "json" }, { "application", "json", "json" },
  { "text", "plain", "text" }, { "text", "html", "html" },
}
local function variant(accept)
  if accept:match("^%s*$") then return "json" end
  if #accept > 1024 then return "html" end
  local ranges = {}
  for item in accept:lower():gmatch("[^,]+") do
    local kind, sub, params = item:match("^%s*([%w%.%+%-%*!#$&^_]+)/([%w%.%+%-%*!#$&^_]+)%s*(.*)$")
    if kind then
      local q = 1
      -- Parameters other than q (charset=utf-8) do not change the form meant.
      for name, value in params:gmatch(";%s*([^=;%s]+)%s*=%s*([^;]*)") do
        if name == "q" then q = tonumber((value:gsub("%s+$", ""))) or 0 end
      end
      local specific = (kind == "*" and 0) or (sub == "*" and 1) or 2
      ranges[#ranges + 1] = { kind, sub, q, specific }
    end
  end
  local best, best_q, best_specific = "html", -1, -1
  for _, offer in ipairs(offered) do
    for _, range in ipairs(ranges) do
      local kind, sub, q, specific = range[1], range[2], range[3], range[4]
      if q > 0 and (q > best_q or (q == best_q and specific > best_specific))
        and (kind == "*" or (kind == offer[1] and (sub == "*" or sub == offer[2]))) then
        best, best_q, best_specific = offer[3], q, specific
      end
    end
  end
  return best
end

-- The json_paths option: problem+json whatever the Accept.
local json_exact = { {% for path in json_exact %}["{{ path }}"] = true, {% endfor %}}
local json_prefixes = { {% for prefix in json_prefixes %}"{{ prefix }}", {% endfor %}}
local function json_path(path)
  if json_exact[path] then return true end
  for _, prefix in ipairs(json_prefixes) do
    if path:sub(1, #prefix) == prefix then return true end
  end
  return false
end

core.register_fetches("maintenance_trigger", function(txn, path)
  local file = io.open(path, "r")
  if file then file:close(); return true end
  return false
end)

core.register_service("maintenance", "http", function(applet)
  local headers = {}
  local name, kind, lang
  if status_path ~= "" and applet.path == status_path then
    name, kind = "status.json", "application/json"
    headers["access-control-allow-origin"] = "*"
  else
    local chosen = json_path(applet.path) and "json" or variant(header_value(applet.headers, "accept"))
    if chosen == "json" then
      name, kind, lang = "problem.json", "application/problem+json", default_language
    elseif chosen == "text" then
      name, kind, lang = "maintenance.txt", "text/plain; charset=utf-8", default_language
    else
      lang = language(header_value(applet.headers, "accept-language"))
      name, kind = "maintenance." .. lang .. ".html", "text/html; charset=utf-8"
      headers["content-security-policy"] = "frame-ancestors 'none'"
    end
  end
  local body = slurp(name) or slurp("maintenance.txt") or "Service unavailable: down for maintenance.\n"
  local retry = (slurp("retry-after") or ""):match("^%d+$") or "{{ retry_default }}"
  applet:set_status(503)
  applet:add_header("content-type", kind)
  applet:add_header("content-length", tostring(#body))
  applet:add_header("cache-control", "no-store")
  applet:add_header("retry-after", retry)
  applet:add_header("x-content-type-options", "nosniff")
  applet:add_header("referrer-policy", "no-referrer")
  if name ~= "status.json" then applet:add_header("vary", "Accept, Accept-Language") end
  if lang then applet:add_header("content-language", lang) end
  for key, value in pairs(headers) do applet:add_header(key, value) end
  applet:start_response()
  if applet.method ~= "HEAD" then applet:send(body) end
end)
