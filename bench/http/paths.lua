-- wrk script of `make bench`'s HTTP load (bench/http/load.sh): each thread cycles through
-- the request paths of the file named by the environment variable WRK_PATHS (one per
-- line, a thread starting at its own offset), sends `Authorization: Bearer $WRK_TOKEN`
-- (and `Cache-Control: no-cache` when WRK_NO_CACHE is set), and at the end prints one JSON
-- line with what wrk measured.
local paths = {}
local next_path = 1
local token = os.getenv("WRK_TOKEN")
local counter = 0

function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
end

function init(args)
  for line in io.lines(os.getenv("WRK_PATHS")) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  next_path = (offset * 37) % #paths + 1
  if token and #token > 0 then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  wrk.headers["Accept-Encoding"] = "gzip"
  if os.getenv("WRK_NO_CACHE") then
    wrk.headers["Cache-Control"] = "no-cache"
  end
end

function request()
  local path = paths[next_path]
  next_path = next_path % #paths + 1
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"bytes":%d,"p50_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration / 1e6, summary.bytes,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
