# CGI script: leaves a variable in os.environ and another working directory behind.
import os
os.environ["LEFTOVER_FROM_A"] = "1"
os.chdir("/")
print("Content-Type: text/plain")
print()
print("a set LEFTOVER_FROM_A and went to /")
