# CGI script: the CGI variables, working directory, argv and module name a script sees.
import os
import sys

print("Content-Type: text/plain")
print()
for k in ("GATEWAY_INTERFACE", "SERVER_PROTOCOL", "REQUEST_METHOD", "QUERY_STRING", "REQUEST_URI",
          "SCRIPT_NAME", "PATH_INFO", "SCRIPT_FILENAME", "CONTENT_TYPE", "CONTENT_LENGTH",
          "HTTP_X_TEST", "HTTP_AUTHORIZATION", "SERVER_NAME", "DOCUMENT_ROOT", "REMOTE_ADDR"):
    print("%s=%r" % (k, os.environ.get(k)))
print("getenv REQUEST_METHOD=%r" % os.getenv("REQUEST_METHOD"))
print("cwd=%r" % os.getcwd())
print("argv=%r" % sys.argv)
print("__name__=%r" % __name__)
print("__file__=%r" % __file__)
m = sys.modules.get(__name__)
print("in sys.modules=%r" % (m is not None and m.__dict__ is globals()))
print("stdin read=%r" % (sys.stdin.read(),))

if __name__ == "__main__":
    print("the __main__ block ran")
