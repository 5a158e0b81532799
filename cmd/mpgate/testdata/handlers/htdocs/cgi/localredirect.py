# CGI script: a local Location without a Status: mod_python sends it with 200, as written.
print("Location: /cgi/cgitarget.py")
print("Content-Type: text/plain")
print()
print("see elsewhere")
