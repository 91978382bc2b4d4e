-- wrk script: posts each line of FILL_OUT once to /v1/check, which makes
-- the verifier fetch and cache every x5u chain, and counts the responses in
-- FILL_DONE (rewritten every 500 responses and at the end) and the ones that
-- were not 200 in FILL_BAD.  Run with -t1 -c1.
local lines = {}
for line in io.lines(os.getenv("FILL_OUT")) do
    lines[#lines + 1] = line
end
local sent, received, bad = 0, 0, 0

local function report()
    local f = io.open(os.getenv("FILL_DONE"), "w")
    f:write(received, "\n")
    f:close()
    f = io.open(os.getenv("FILL_BAD"), "w")
    f:write(bad, "\n")
    f:close()
end

request = function()
    sent = sent + 1
    return wrk.format("POST", "/v1/check", nil, lines[(sent - 1) % #lines + 1])
end

response = function(status, headers, body)
    received = received + 1
    if status ~= 200 then
        bad = bad + 1
    end
    if received % 500 == 0 or received >= #lines then
        report()
    end
    if received >= #lines then
        wrk.thread:stop()
    end
end
