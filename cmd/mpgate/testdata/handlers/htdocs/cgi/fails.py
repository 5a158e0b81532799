# CGI script: an exception after the header block went out.
print("Content-Type: text/plain")
print()
print("before the error")
raise RuntimeError("cgi_script_failed")
