# CGI script: cgi.FieldStorage, as CGI scripts read forms.
import cgi

print("Content-Type: text/plain")
print()
form = cgi.FieldStorage()
for k in sorted(form.keys()):
    print("%s=%r" % (k, form.getlist(k)))
