# CGI script: binary output through sys.stdout.buffer, as a Python 3 CGI script writes it.
import sys
out = sys.stdout.buffer
out.write(b"Content-Type: application/octet-stream\n\n")
out.write(bytes(range(256)))
sys.stdout.write("text after bytes\n")
