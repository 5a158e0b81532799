# CGI script: sys.exit(), as a script run by a CGI server might end.
import sys
print("Content-Type: text/plain")
print()
print("exiting")
sys.exit(0)
