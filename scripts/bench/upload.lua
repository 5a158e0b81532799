-- upload.lua: wrk script of the api phase of scripts/bench.sh: every request POSTs the
-- multipart body in the file API_BODY (apiload.py body) with its boundary, API_BOUNDARY.
local f = assert(io.open(os.getenv("API_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. os.getenv("API_BOUNDARY")
