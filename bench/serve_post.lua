-- wrk script: POSTs the content of the file BENCH_BODY_FILE on every
-- request.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
