# CGI script: the request body read from sys.stdin in the way the query string names.
import sys

how = __import__("os").environ.get("QUERY_STRING") or "read"
if how == "read":
    got = [sys.stdin.read()]
elif how == "readline":
    got = [sys.stdin.readline(), sys.stdin.readline(5), sys.stdin.read()]
elif how == "readlines":
    got = sys.stdin.readlines()
elif how == "iter":
    got = [line for line in sys.stdin]
elif how == "buffer":
    got = [sys.stdin.buffer.read(3), sys.stdin.buffer.read()]
elif how == "pieces":
    got = [sys.stdin.read(4), sys.stdin.read(4), sys.stdin.read()]
print("Content-Type: text/plain")
print()
print("%s=%r" % (how, got))
