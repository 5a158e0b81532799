# CGI script: imports a module beside it (the handler directory is on sys.path).
import cgihelper
print("Content-Type: text/plain")
print()
print("helper says %s" % cgihelper.greeting("cgi"))
