# CGI script: a header block ending in CRLF CRLF, the body in the same write.
import sys
sys.stdout.write("Content-Type: text/plain\r\nX-Crlf: yes\r\n\r\nbody after crlf\n")
sys.stdout.write("caf\u00e9\n")
