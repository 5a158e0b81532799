# api phase of make bench (issue 5): mod_python.publisher; /api-pub/hello.py calls index().


def index(req):
    return 'Hello world\n'
