# CGI script: Status, Location and several headers in the header block.
print("Status: 302 Found")
print("Location: http://example.com/elsewhere")
print("X-One: 1")
print("Set-Cookie: a=1")
print("Set-Cookie: b=2")
print("Content-Type: text/html; charset=utf-8")
print()
print("<p>moved</p>")
