-- wrk script for bench/compare.sh: POSTs the request bodies of a file, one JSON body per
-- line, in turn (the same payloads the other clients send), to the path given on wrk's
-- URL. The requests are formatted once in init(), so wrk's own cost stays what it is:
-- the HTTP ceiling of the machine.
--   wrk -s wrk_post.lua URL -- BODIES_FILE [MAX_BODIES]
local requests = {}
local n = 0
local i = 0

function init(args)
    local path = args[1]
    local max = tonumber(args[2] or "1000")
    local headers = { ["Content-Type"] = "application/json" }
    for line in io.lines(path) do
        n = n + 1
        requests[n] = wrk.format("POST", nil, headers, line)
        if n >= max then break end
    end
    if n == 0 then error("wrk_post.lua: no bodies in " .. path) end
end

function request()
    i = i % n + 1
    return requests[i]
end
