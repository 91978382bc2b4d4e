-- wrk script: signs FILL_COUNT headers through /v1/sign-csv, each naming
-- its own x5u URL (FILL_X5U_PREFIX .. i .. ".pem"), and writes the
-- Identity values to FILL_OUT, one a line.  Run with -t1 -c1; the thread
-- stops sending after FILL_COUNT responses, but wrk itself runs until its
-- -d duration, so the caller stops it once FILL_OUT is complete.
local count = tonumber(os.getenv("FILL_COUNT"))
local prefix = os.getenv("FILL_X5U_PREFIX")
local out = io.open(os.getenv("FILL_OUT"), "w")
local sent, received = 0, 0

-- wrk may call request() once more than it sends, so the index wraps
-- around and every name still comes up once.
request = function()
    local body = "12025550100,12025550199,A,," .. prefix .. (sent % count)
        .. ".pem"
    sent = sent + 1
    return wrk.format("POST", "/v1/sign-csv", nil, body)
end

response = function(status, headers, body)
    received = received + 1
    if received <= count then
        out:write(body)
    end
    if received >= count then
        out:flush()
        wrk.thread:stop()
    end
end
