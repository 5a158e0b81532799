# CGI script: a Status the script sets, with a body of its own.
import sys
sys.stdout.write("Status: 404 Not Found\nContent-Type: text/plain\n\nnothing here\n")
