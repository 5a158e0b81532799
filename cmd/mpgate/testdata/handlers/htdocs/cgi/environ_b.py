# CGI script: shows what environ_a.py left behind (nothing, in a CGI emulation).
import os
print("Content-Type: text/plain")
print()
print("LEFTOVER_FROM_A in os.environ=%r" % ("LEFTOVER_FROM_A" in os.environ))
print("cwd=%r" % os.getcwd())
print("keys=%r" % sorted(k for k in os.environ if k.startswith(("MPGATE", "LEFTOVER"))))
