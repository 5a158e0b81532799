# CGI script: no blank line after its header block; mod_python sends nothing of it.
print("hello without headers")
