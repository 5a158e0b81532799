# A module the CGI scripts import.
def greeting(name):
    return "hello, %s" % name
