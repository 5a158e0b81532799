# CGI script: a header line without a colon.
print("this is no header")
print()
print("body")
