-- wrk script of the inference benchmark (tests/bench/bench_infer.sh): POSTs one body,
-- read from a file, to one path, and prints one parseable line at the end.
--   BENCH_BODY   file holding the request body (written by bench_infer_fastapi.py bodies)
--   BENCH_PATH   the path (e.g. /v2/models/bench-mlp/infer)
--   BENCH_HLEN   when set: the binary extension, Inference-Header-Content-Length: BENCH_HLEN
--   BENCH_COUNT  when 1: count answers by status and by "model_version" (the hot swap:
--                BENCH_OLD and BENCH_NEW name the two versions); off otherwise, since a
--                response hook makes wrk parse every body
-- The line: "wrk: requests=N seconds=S rps=R p50_ms=A p99_ms=B max_ms=C socket_errors=E
-- non2xx=F [ok=G bad=H old=I new=J other=K]" (wrk's non2xx counts statuses above 399).

local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH")
local hlen = os.getenv("BENCH_HLEN")
if hlen and hlen ~= "" then
	wrk.headers["Content-Type"] = "application/octet-stream"
	wrk.headers["Inference-Header-Content-Length"] = hlen
else
	wrk.headers["Content-Type"] = "application/json"
end

local threads = {}
function setup(thread)
	table.insert(threads, thread)
end

if os.getenv("BENCH_COUNT") == "1" then
	ok, bad, old, new, other = 0, 0, 0, 0, 0
	local v_old, v_new = os.getenv("BENCH_OLD") or "", os.getenv("BENCH_NEW") or ""
	function response(status, headers, body)
		if status >= 200 and status < 300 then
			ok = ok + 1
		else
			bad = bad + 1
		end
		local v = body and body:match('"model_version"%s*:%s*"([^"]*)"')
		if v == v_old then
			old = old + 1
		elseif v == v_new then
			new = new + 1
		else
			other = other + 1
		end
	end
end

function done(summary, latency, requests)
	local e = summary.errors
	local s = summary.duration / 1e6
	local line = string.format(
		"wrk: requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f socket_errors=%d non2xx=%d",
		summary.requests, s, summary.requests / s, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
		latency.max / 1000, e.connect + e.read + e.write + e.timeout, e.status)
	if os.getenv("BENCH_COUNT") == "1" then
		local t = { ok = 0, bad = 0, old = 0, new = 0, other = 0 }
		for _, th in ipairs(threads) do
			for k, _ in pairs(t) do
				t[k] = t[k] + (th:get(k) or 0)
			end
		end
		line = line .. string.format(" ok=%d bad=%d old=%d new=%d other=%d", t.ok, t.bad, t.old, t.new, t.other)
	end
	io.write(line .. "\n")
end
