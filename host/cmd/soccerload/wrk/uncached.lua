-- wrk script: POST /v1/predictions for a fixture never asked before, so every
-- answer is computed (features and model), never served from the cache: a
-- real pair of teams with a kick-off of its own per request, from a random
-- start so that runs one after another do not repeat each other.
--
--   wrk -t1 -c64 -d10s --latency -s host/cmd/soccerload/wrk/uncached.lua http://127.0.0.1:8080
math.randomseed(os.time())
local n = math.random(1, 100000000)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  n = n + 1
  local kickoff = os.date("!%Y-%m-%dT%H:%M:%SZ", 1723903200 + n * 60)
  local body = string.format('{"home_team":"Arsenal","away_team":"Chelsea","competition":"E0","kickoff":"%s"}', kickoff)
  return wrk.format(nil, "/v1/predictions", nil, body)
end
