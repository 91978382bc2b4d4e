-- wrk script: posts each line of FILL_OUT once to /v1/check, which makes
-- the verifier fetch and cache every x5u chain.  Run with -t1 -c1.
local lines = {}
for line in io.lines(os.getenv("FILL_OUT")) do
    lines[#lines + 1] = line
end
local sent, received = 0, 0

request = function()
    sent = sent + 1
    return wrk.format("POST", "/v1/check", nil, lines[(sent - 1) % #lines + 1])
end

response = function(status, headers, body)
    received = received + 1
    if received >= #lines then
        wrk.thread:stop()
    end
end
