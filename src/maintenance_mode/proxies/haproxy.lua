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

local function first(headers, name)
  local values = headers[name]
  if values == nil then return "" end
  return values[0] or ""
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

local function variant(accept)
  accept = accept:lower()
  if accept:find("text/html", 1, true) then return "html" end
  if accept:find("application/problem+json", 1, true) or accept:find("application/json", 1, true) then
    return "json"
  end
  if accept:find("^%s*text/plain") then return "text" end
  return "html"
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
    local chosen = variant(first(applet.headers, "accept"))
    if chosen == "json" then
      name, kind, lang = "problem.json", "application/problem+json", default_language
    elseif chosen == "text" then
      name, kind, lang = "maintenance.txt", "text/plain; charset=utf-8", default_language
    else
      lang = language(first(applet.headers, "accept-language"))
      name, kind = "maintenance." .. lang .. ".html", "text/html; charset=utf-8"
      headers["content-security-policy"] = "frame-ancestors 'none'"
      headers["vary"] = "Accept, Accept-Language"
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
  if lang then applet:add_header("content-language", lang) end
  for key, value in pairs(headers) do applet:add_header(key, value) end
  applet:start_response()
  if applet.method ~= "HEAD" then applet:send(body) end
end)
