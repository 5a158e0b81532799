"""mod_python.util for mpgate: form parsing (FieldStorage and its Field,
StringField and FieldList), query-string parsing, redirect, and the calling
of a function with form data (apply_fs_data) that the publisher uses.

Adapted from grisha/mod_python: lib/python/mod_python/util.py (3.5.0,
Apache License 2.0, Copyright Gregory Trubetskoy and the Apache Software
Foundation) and kept to what Debian's libapache2-mod-python 3.5 does on
Python 3 (mod_python.md section 5.1): the same types (StringField is bytes;
names from the query string and multipart are str, from an urlencoded body
bytes), the same multipart parser reading with req.readline(readBlockSize)
(uploads go to temporary files as they arrive), the same 411/400/501
answers.

Deliberate differences (docs/compat.md):
* Limits mod_python lacks: at most PythonOption mod_python.util.max_fields
  fields (default 10000; 400 beyond) and at most
  mod_python.util.max_field_size bytes (default 16 MiB; 413 beyond) for what
  is held in memory -- an urlencoded body, a multipart part that is not a
  file, the header block of a part. 0 means unlimited. Each refusal logs a
  line naming the option.
* A malformed multipart body (a part header line without ':', headers ended
  by a bare LF, a part without Content-Disposition) or a body shorter than
  its Content-Length is answered 400 with an error-log line naming the
  cause, where mod_python fails with a 500 and a traceback (ValueError,
  AttributeError, IOError); an epilogue after the closing boundary is
  ignored, and a body that ends in CR without its closing boundary keeps
  the CR, where mod_python fails (500).
* A form value that is not UTF-8 is kept as its bytes (StringField and its
  value); mod_python 3.5 fails on it with UnicodeDecodeError (a 500).
* Query-string fields keep their names: Debian's C parse_qsl often names
  them after their values (_apache.py).
* Behind a mod_fcgid without apache-conf's SetEnvIf lines, a POST whose
  Content-Length the worker cannot know (see _fcgid_empty_body) is taken as
  empty, not answered 411.
The 411, 400 and 501 answers also log a line saying why.
"""

import _apache

import sys
PY2 = sys.version[0] == '2'
from . import apache  # noqa: E402

from io import BytesIO  # noqa: E402
import tempfile  # noqa: E402
import re  # noqa: E402

from types import *  # noqa: E402,F401,F403  (mod_python's util.py exports these names)
import collections  # noqa: E402
import collections.abc  # noqa: E402
import typing as _typing  # noqa: E402

MethodWrapper = type(object.__call__)

parse_qs = _apache.parse_qs
parse_qsl = _apache.parse_qsl

# Maximum line length for reading. (64KB)
# Fixes memory error when upload large files such as 700+MB ISOs.
readBlockSize = 65368

# The PythonOption names of the limits and their defaults (0 = unlimited).
MAX_FIELDS_OPTION = "mod_python.util.max_fields"
MAX_FIELD_SIZE_OPTION = "mod_python.util.max_field_size"
DEFAULT_MAX_FIELDS = 10000
DEFAULT_MAX_FIELD_SIZE = 16 << 20

""" The classes below are a (almost) a drop-in replacement for the
    standard cgi.py FieldStorage class. They should have pretty much the
    same functionality.

    These classes differ in that unlike cgi.FieldStorage, they are not
    recursive. The class FieldStorage contains a list of instances of
    Field class. Field class is incapable of storing anything in it.

    These objects should be considerably faster than the ones in cgi.py
    because they do not expect CGI environment, and are
    optimized specifically for Apache and mod_python.
"""


class Field:
    """A form field whose data is in a file (a multipart part with a
    filename): value reads the whole file."""

    def __init__(self, name, *args, **kwargs):
        self.name = name

        # Some third party packages such as Trac create instances of the
        # Field object and insert it directly into the list of form fields
        # (mod_python's comment); more than a name means the old signature.
        if args or kwargs:
            self.__bc_init__(*args, **kwargs)

    def __bc_init__(self, file, ctype, type_options,
                    disp, disp_options, headers={}):
        self.file = file
        self.type = ctype
        self.type_options = type_options
        self.disposition = disp
        self.disposition_options = disp_options
        if "filename" in disp_options:
            self.filename = disp_options["filename"]
        else:
            self.filename = None
        self.headers = headers

    def __repr__(self):
        """Return printable representation."""
        return "Field(%s, %s)" % (repr(self.name), repr(self.value))

    def __getattr__(self, name):
        if name != 'value':
            raise AttributeError(name)
        if self.file:
            self.file.seek(0)
            value = self.file.read()
            if not isinstance(value, bytes):
                raise TypeError("value must be bytes, is file opened in binary mode?")
            self.file.seek(0)
        else:
            value = None
        return value

    def __del__(self):
        # mod_python closes the file unconditionally; a Field made with a
        # name only has none (its __del__ then prints an ignored
        # AttributeError to the error log).
        f = self.__dict__.get("file")
        if f is not None:
            f.close()


class StringField(bytes):
    """ This class is basically a string with
    added attributes for compatibility with std lib cgi.py. Basically, this
    works the opposite of Field, as it stores its data in a string, but creates
    a file on demand. Field creates a value on demand and stores data in a file.
    """
    filename = None
    headers = {}  # type: dict
    ctype = "text/plain"
    type_options = {}  # type: dict
    disposition = None
    disp_options = None

    def __new__(self, value):
        if isinstance(value, bytes):
            # mod_python decodes and re-encodes (so fails on bytes that are
            # not UTF-8); UTF-8 round-trips to the same bytes, anything else
            # is kept as it came (see the module docstring).
            return bytes.__new__(self, value)
        return bytes.__new__(self, str(value), encoding="utf-8")

    def __init__(self, value):
        self.value = value

    def __getattr__(self, name):
        if name != 'file':
            raise AttributeError(name)
        self.file = BytesIO(self.value)
        return self.file

    def __repr__(self):
        """Return printable representation (to pass unit tests)."""
        return "Field(%s, %s)" % (repr(self.name), repr(self.value))


class FieldList(list):
    """The list of a FieldStorage's fields, in submission order, with a
    name -> [fields] table made on demand."""

    def __init__(self):
        self.__table = None
        list.__init__(self)

    def table(self):
        if self.__table is None:
            self.__table = {}
            for item in self:
                if item.name in self.__table:
                    self.__table[item.name].append(item)
                else:
                    self.__table[item.name] = [item]
        return self.__table

    def __delitem__(self, *args):
        self.__table = None
        return list.__delitem__(self, *args)

    def __delslice__(self, *args):
        self.__table = None
        return list.__delslice__(self, *args)

    def __iadd__(self, *args):
        self.__table = None
        return list.__iadd__(self, *args)

    def __imul__(self, *args):
        self.__table = None
        return list.__imul__(self, *args)

    def __setitem__(self, *args):
        self.__table = None
        return list.__setitem__(self, *args)

    def __setslice__(self, *args):
        self.__table = None
        return list.__setslice__(self, *args)

    def append(self, *args):
        self.__table = None
        return list.append(self, *args)

    def extend(self, *args):
        self.__table = None
        return list.extend(self, *args)

    def insert(self, *args):
        self.__table = None
        return list.insert(self, *args)

    def pop(self, *args):
        self.__table = None
        return list.pop(self, *args)

    def remove(self, *args):
        self.__table = None
        return list.remove(self, *args)


class _Refused(Exception):
    """A request body FieldStorage refuses: status is the HTTP status to
    answer, message the error-log line."""

    def __init__(self, status: int, message: str) -> None:
        Exception.__init__(self, message)
        self.status = status
        self.message = message


class _Limits:
    """The limits in effect for one FieldStorage (0 = unlimited), and the
    number of fields so far."""

    def __init__(self, max_fields: int, max_field_size: int) -> None:
        self.max_fields = max_fields
        self.max_field_size = max_field_size
        self.fields = 0

    def count(self, n: int = 1) -> None:
        """Counts n more fields; refuses the body beyond max_fields."""
        self.fields += n
        if self.max_fields and self.fields > self.max_fields:
            raise _Refused(apache.HTTP_BAD_REQUEST,
                           "the form has more than %d fields; raise PythonOption %s (0 = unlimited) to accept it"
                           % (self.max_fields, MAX_FIELDS_OPTION))

    def too_large(self, what: str) -> _Refused:
        """Returns the refusal of what for being over max_field_size."""
        return _Refused(apache.HTTP_REQUEST_ENTITY_TOO_LARGE,
                        "%s is larger than %d bytes; raise PythonOption %s (0 = unlimited) to accept it"
                        % (what, self.max_field_size, MAX_FIELD_SIZE_OPTION))


def _limit_option(req: _typing.Any, name: str, default: int) -> int:
    """Returns the PythonOption name as a limit (default when unset); a
    value that is not a whole number >= 0 is a configuration error (500)."""
    raw = _option(req, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        req.log_error("mod_python.util.FieldStorage: PythonOption %s %r is not a whole number >= 0" % (name, raw),
                      apache.APLOG_ERR)
        raise apache.SERVER_RETURN(apache.HTTP_INTERNAL_SERVER_ERROR)
    return value


def _option(req: _typing.Any, name: str) -> _typing.Optional[str]:
    """Returns the PythonOption name in effect for req, or None. An mpgate
    request's options are read from its configuration: req.get_options()
    removes masked entries from the request's table as it goes (as
    mod_python's does), which a site calling it later would see."""
    site = getattr(req, "_site", None)
    options = getattr(site, "options", None)
    if options is not None:
        value = None
        for k, v in options:
            if k.lower() == name.lower():
                value = v
        return value
    get_options = getattr(req, "get_options", None)
    if get_options is None:
        return None
    return get_options().get(name)


_PAIR = re.compile(rb"[^&;]+")


def _count_pairs(qs: _typing.Any, keep_blank_values: _typing.Any, limit: int) -> int:
    """Counts the pairs parse_qsl keeps from qs, stopping past limit, so that
    a huge body of tiny pairs is refused before it is parsed."""
    b = qs.encode("utf-8", "surrogateescape") if isinstance(qs, str) else qs
    n = 0
    for m in _PAIR.finditer(b):
        seg = m.group()
        if keep_blank_values or seg.find(b"=") not in (-1, len(seg) - 1):
            n += 1
            if n > limit:
                break
    return n


def _fcgid_empty_body(req: _typing.Any) -> _typing.Optional[int]:
    """Returns 0 for a request whose Content-Length mpgate's worker cannot
    know (None for the others): mod_fcgid sends CONTENT_LENGTH 0 both for a
    client's "Content-Length: 0" and for a request without one, and the
    worker's headers_in then has none (docs/compat.md). FieldStorage takes
    such a POST as an empty one, which is what nearly every client means."""
    param = getattr(req, "_param", None)
    if param is None or req.headers_in.get("transfer-encoding") is not None:
        return None
    if param("MPGATE_CLIENT_HEADERS") is not None:
        # Apache passes the client's own Content-Length (apache-conf's
        # SetEnvIf lines): headers_in is right, a missing one is missing.
        return None
    if param("CONTENT_LENGTH") == "0":
        return 0
    return None


class _BodyError(Exception):
    """Reading the request body failed (it ended before its
    Content-Length)."""


class FieldStorage:
    """The fields of a request: always those of req.args, and for a POST
    those of an application/x-www-form-urlencoded or multipart body."""

    def __init__(self, req, keep_blank_values=0, strict_parsing=0, file_callback=None, field_callback=None):
        #
        # Whenever readline is called ALWAYS use the max size EVEN when
        # not expecting a long line. - this helps protect against
        # malformed content from exhausting memory.
        #

        self.list = FieldList()
        limits = _Limits(_limit_option(req, MAX_FIELDS_OPTION, DEFAULT_MAX_FIELDS),
                         _limit_option(req, MAX_FIELD_SIZE_OPTION, DEFAULT_MAX_FIELD_SIZE))
        try:
            self._parse(req, keep_blank_values, file_callback, field_callback, limits)
        except _Refused as e:
            req.log_error("mod_python.util.FieldStorage: %s" % e.message, apache.APLOG_ERR)
            raise apache.SERVER_RETURN(e.status) from None

    def _parse(self, req, keep_blank_values, file_callback, field_callback, limits):
        """FieldStorage.__init__ proper (mod_python's), with limits."""
        # always process GET-style parameters
        if req.args:
            if limits.max_fields:
                limits.count(_count_pairs(req.args, keep_blank_values, limits.max_fields))
            pairs = self.parse_qsl_safely(req.args, keep_blank_values)
            for pair in pairs:
                self.add_field(pair[0], pair[1])

        if req.method != "POST":
            return

        try:
            clen = int(req.headers_in["content-length"])
        except KeyError:
            clen = _fcgid_empty_body(req)
        except ValueError:
            clen = None
        if clen is None:
            # absent content-length is not acceptable
            req.log_error("mod_python.util.FieldStorage: a POST without a valid Content-Length (411)",
                          apache.APLOG_ERR)
            raise apache.SERVER_RETURN(apache.HTTP_LENGTH_REQUIRED)

        if "content-type" not in req.headers_in:
            ctype = b"application/x-www-form-urlencoded"
        else:
            ctype = req.headers_in["content-type"].encode("latin1")

        if not isinstance(ctype, bytes):
            raise TypeError("ctype must be of type bytes")

        if ctype.startswith(b"application/x-www-form-urlencoded"):
            if limits.max_field_size and clen > limits.max_field_size:
                raise limits.too_large("the urlencoded request body (Content-Length %d)" % clen)
            try:
                v = req.read(clen)
            except OSError as e:
                raise _Refused(apache.HTTP_BAD_REQUEST, "reading the request body: %s" % e)
            if not isinstance(v, bytes):
                raise TypeError("req.read() must return bytes")
            if limits.max_fields:
                limits.count(_count_pairs(v, keep_blank_values, limits.max_fields - limits.fields))
            pairs = self.parse_qsl_safely(v, keep_blank_values)
            for pair in pairs:
                self.add_field(pair[0], pair[1])
            return

        if not ctype.startswith(b"multipart/"):
            # we don't understand this content-type
            req.log_error("mod_python.util.FieldStorage: cannot parse a POST body of Content-Type %r (501)"
                          % ctype.decode("latin1"), apache.APLOG_ERR)
            raise apache.SERVER_RETURN(apache.HTTP_NOT_IMPLEMENTED)

        # figure out boundary
        try:
            i = ctype.lower().rindex(b"boundary=")
            boundary = ctype[i+9:]
            if len(boundary) >= 2 and boundary[:1] == boundary[-1:] == b'"':
                boundary = boundary[1:-1]
            boundary = re.compile(b"--" + re.escape(boundary) + b"(--)?\r?\n")

        except ValueError:
            req.log_error("mod_python.util.FieldStorage: multipart Content-Type without a boundary (400)",
                          apache.APLOG_ERR)
            raise apache.SERVER_RETURN(apache.HTTP_BAD_REQUEST)

        try:
            self._parse_multipart(req, boundary, file_callback, field_callback, limits)
        except _BodyError as e:
            raise _Refused(apache.HTTP_BAD_REQUEST, "reading the request body: %s" % e)

    def _parse_multipart(self, req, boundary, file_callback, field_callback, limits):
        """Reads the parts of a multipart body (mod_python's loop)."""
        # read until boundary
        # closed: the last delimiter read closed the body; what follows it
        # is an epilogue, which mod_python parses as more parts (and fails
        # on unless it looks like parts): mpgate stops there instead.
        closed = self.read_to_boundary(req, boundary, None)

        end_of_stream = False
        while not end_of_stream:
            ## parse headers

            ctype, type_options = b"text/plain", {}
            disp, disp_options = None, {}
            headers = apache.make_table()

            line = _readline(req)
            match = boundary.match(line)
            if (not line) or match:
                # we stop if we reached the end of the stream or a stop
                # boundary (which means '--' after the boundary) we
                # continue to the next part if we reached a simple
                # boundary in either case this would mean the entity is
                # malformed, but we're tolerating it anyway.
                end_of_stream = (not line) or (match.group(1) is not None)
                closed = end_of_stream
                continue

            skip_this_part = False
            header_bytes = 0
            while line not in (b'\r', b'\r\n'):
                nextline = _readline(req)
                while nextline and nextline[:1] in [b' ', b'\t']:
                    line = line + nextline
                    if limits.max_field_size and header_bytes + len(line) > limits.max_field_size:
                        raise limits.too_large("the header block of a multipart part")
                    nextline = _readline(req)
                header_bytes += len(line)
                if limits.max_field_size and header_bytes > limits.max_field_size:
                    raise limits.too_large("the header block of a multipart part")
                # we read the headers until we reach an empty line
                # NOTE : a single \n would mean the entity is malformed, but
                # we're tolerating it anyway
                if b":" not in line:
                    if closed:
                        return
                    if line.strip(b"\r\n") == b"":
                        raise _Refused(apache.HTTP_BAD_REQUEST,
                                       "malformed multipart body: a part's headers end in a bare LF, not CRLF")
                    raise _Refused(apache.HTTP_BAD_REQUEST,
                                   "malformed multipart body: part header line %r has no ':'" % _clip(line))
                h, v = line.split(b":", 1)
                headers.add(h, v)  # mp_table accepts bytes, but always returns str
                h = h.lower()
                if h == b"content-disposition":
                    disp, disp_options = parse_header(v)
                elif h == b"content-type":
                    ctype, type_options = parse_header(v)
                    #
                    # NOTE: FIX up binary rubbish sent as content type
                    # from Microsoft IE 6.0 when sending a file which
                    # does not have a suffix.
                    #
                    if ctype.find(b'/') == -1:
                        ctype = b'application/octet-stream'

                line = nextline
                match = boundary.match(line)
                if (not line) or match:
                    # we stop if we reached the end of the stream or a
                    # stop boundary (which means '--' after the
                    # boundary) we continue to the next part if we
                    # reached a simple boundary in either case this
                    # would mean the entity is malformed, but we're
                    # tolerating it anyway.
                    skip_this_part = True
                    end_of_stream = (not line) or (match.group(1) is not None)
                    closed = end_of_stream
                    break

            if skip_this_part:
                continue

            if disp is None:
                if closed:
                    return
                raise _Refused(apache.HTTP_BAD_REQUEST,
                               "malformed multipart body: a part has no Content-Disposition header")

            if b"name" in disp_options:
                name = disp_options[b"name"]
            else:
                name = None

            limits.count()

            # create a file object
            # is this a file?
            filename = None
            if b"filename" in disp_options:
                filename = disp_options[b"filename"]
                if file_callback and isinstance(file_callback, collections.abc.Callable):
                    file = file_callback(filename)
                else:
                    file = tempfile.TemporaryFile("w+b")
                limit = 0
            else:
                if field_callback and isinstance(field_callback, collections.abc.Callable):
                    file = field_callback()
                else:
                    file = BytesIO()
                limit = limits.max_field_size

            # read it in
            try:
                closed = self.read_to_boundary(req, boundary, file, limit)
            except _TooLarge:
                raise limits.too_large("form field %r" % (name,)) from None
            file.seek(0)

            # make a Field
            if filename:
                field = Field(name)
                field.filename = filename
            else:
                field = StringField(file.read())
                field.name = name
            field.file = file
            field.type = PY2 and ctype or ctype.decode('latin1')
            field.type_options = type_options
            field.disposition = PY2 and disp or disp.decode('latin1')
            field.disposition_options = disp_options
            field.headers = headers
            self.list.append(field)

    def parse_qsl_safely(self, query_string, keep_blank_values):
        """
        This script calls urllib.parse.parse_qsl if there is exception in processing parse_qsl function

        :param query_string: The query string which needs to be parsed
        :type query_string: string
        :param keep_blank_values: keep_blank_values is a flag indicating whether blank values in percent-encoded queries should be treated as blank strings.
        :type keep_blank_values: int/boolean
        """
        try:
            pairs = parse_qsl(query_string, keep_blank_values)
        except SystemError:
            import urllib.parse
            pairs = urllib.parse.parse_qsl(query_string, keep_blank_values)
        return pairs

    def add_field(self, key, value):
        """Insert a field as key/value pair"""
        item = StringField(value)
        item.name = key
        self.list.append(item)

    def __setitem__(self, key, value):
        if not isinstance(value, bytes):
            raise TypeError("Field value must be bytes")
        if not isinstance(key, bytes):
            raise TypeError("Field key must be bytes")
        table = self.list.table()
        if key in table:
            items = table[key]
            for item in items:
                self.list.remove(item)
        item = StringField(value)
        item.name = key
        self.list.append(item)

    def read_to_boundary(self, req, boundary, file, limit=0):
        """Reads body lines into file (None: drops them) up to the next line
        matching boundary; returns whether it was the closing one (or the
        body ended). With limit, raises _TooLarge once more than limit bytes
        would go into file."""
        previous_delimiter = None
        written = 0
        while True:
            line = _readline(req)

            if not line:
                # end of stream
                if file is not None and previous_delimiter is not None:
                    file.write(previous_delimiter)
                return True

            match = boundary.match(line)
            if match:
                # the line is the boundary, so we bail out
                # if the two last bytes are '--' it is the end of the entity
                return match.group(1) is not None

            if limit and file is not None:
                # the bytes this line writes: the delimiter held back before
                # it and the line but for the delimiter it holds back itself
                written += len(line)
                held = 2 if line[-2:] == b"\r\n" else 1 if line[-1:] == b"\r" else 0
                if written - held > limit:
                    raise _TooLarge()

            if line[-2:] == b'\r\n':
                # the line ends with a \r\n, which COULD be part
                # of the next boundary. We write the previous line delimiter
                # then we write the line without \r\n and save it for the next
                # iteration if it was not part of the boundary
                if file is not None:
                    if previous_delimiter is not None: file.write(previous_delimiter)  # noqa: E701
                    file.write(line[:-2])
                previous_delimiter = b'\r\n'

            elif line[-1:] == b'\r':
                # the line ends with \r, which is only possible if
                # readBlockSize bytes have been read (or at the end of a
                # body that lacks its final boundary, where mod_python
                # fails an assertion). In that case the
                # \r COULD be part of the next boundary, so we save it
                # for the next iteration
                if file is not None:
                    if previous_delimiter is not None: file.write(previous_delimiter)  # noqa: E701
                    file.write(line[:-1])
                previous_delimiter = b'\r'

            elif line == b'\n' and previous_delimiter == b'\r':
                # the line us a single \n and we were in the middle of a \r\n,
                # so we complete the delimiter
                previous_delimiter = b'\r\n'

            else:
                if file is not None:
                    if previous_delimiter is not None: file.write(previous_delimiter)  # noqa: E701
                    file.write(line)
                previous_delimiter = None

    def __getitem__(self, key):
        """Dictionary style indexing."""
        found = self.list.table()[key]
        if len(found) == 1:
            return found[0]
        else:
            return found

    def get(self, key, default):
        try:
            return self.__getitem__(key)
        except (TypeError, KeyError):
            return default

    def keys(self):
        """Dictionary style keys() method."""
        return list(self.list.table().keys())

    def __iter__(self):
        return iter(list(self.keys()))

    def __repr__(self):
        return repr(self.list.table())

    def has_key(self, key):
        """Dictionary style has_key() method."""
        return (key in self.list.table())

    __contains__ = has_key

    def __len__(self):
        """Dictionary style len(x) support."""
        return len(self.list.table())

    def getfirst(self, key, default=None):
        """ return the first value received """
        try:
            return self.list.table()[key][0]
        except KeyError:
            return default

    def getlist(self, key):
        """ return a list of received values """
        try:
            return self.list.table()[key]
        except KeyError:
            return []

    def items(self):
        """Dictionary-style items(), except that items are returned in the same
        order as they were supplied in the form."""
        return [(item.name, item) for item in self.list]

    def __delitem__(self, key):
        table = self.list.table()
        values = table[key]
        for value in values:
            self.list.remove(value)

    def clear(self):
        self.list = FieldList()


class _TooLarge(Exception):
    """read_to_boundary went past its limit."""


def _readline(req: _typing.Any) -> bytes:
    """req.readline(readBlockSize), with a failed read (a body shorter than
    its Content-Length) as _BodyError."""
    try:
        line = req.readline(readBlockSize)
    except OSError as e:
        raise _BodyError(str(e) or type(e).__name__) from None
    if not isinstance(line, bytes):
        raise TypeError("req.readline() must return bytes")
    return line


def _clip(b: bytes, n: int = 60) -> str:
    """Returns header line b for a log line: Latin-1, without its line end,
    cut to n characters."""
    s = b.rstrip(b"\r\n").decode("latin1")
    return s if len(s) <= n else s[:n] + "..."


def parse_header(line):
    """Parse a Content-type like header.

    Return the main content-type and a dictionary of options.

    """

    if not isinstance(line, bytes):
        raise TypeError("parse_header() only accepts bytes")

    plist = [a.strip() for a in line.split(b';')]
    key = plist[0].lower()
    del plist[0]
    pdict = {}
    for p in plist:
        i = p.find(b'=')
        if i >= 0:
            name = p[:i].strip().lower()
            value = p[i+1:].strip()
            if len(value) >= 2 and value[:1] == value[-1:] == b'"':
                value = value[1:-1]
            pdict[name] = PY2 and value or value.decode('latin1')
    return key, pdict


def apply_fs_data(object, fs, **args):
    """
    Apply FieldStorage data to an object - the object must be
    callable. Examine the args, and match then with fs data,
    then call the object, return the result.
    """

    # we need to weed out unexpected keyword arguments
    # and for that we need to get a list of them. There
    # are a few options for callable objects here:

    fc = None
    expected = []  # type: _typing.Any

    if hasattr(object, '__code__'):
        # function
        fc = object.__code__
        expected = fc.co_varnames[0:fc.co_argcount]
    elif hasattr(object, '__func__'):
        # method
        fc = object.__func__.__code__
        expected = fc.co_varnames[1:fc.co_argcount]
    elif type(object) is type and hasattr(object, "__init__") and hasattr(object.__init__, "__code__"):
        # class
        fc = object.__init__.__code__
        expected = fc.co_varnames[1:fc.co_argcount]
    elif type(object) is [type, BuiltinFunctionType]:  # noqa: F405  (never true, as in mod_python)
        # builtin
        fc = None
        expected = []
    elif hasattr(object, '__call__'):
        # callable object
        if type(object.__call__) is MethodType:  # noqa: F405
            fc = object.__call__.__func__.__code__
            expected = fc.co_varnames[1:fc.co_argcount]
        elif type(object.__call__) != MethodWrapper:
            # abuse of objects to create hierarchy
            return apply_fs_data(object.__call__, fs, **args)

    # add form data to args
    for field in fs.list:
        if field.filename:
            val = field
        else:
            val = field.value
        args.setdefault(field.name, []).append(val)

    # replace lists with single values
    for arg in args:
        if ((type(args[arg]) is list) and
                (len(args[arg]) == 1)):
            args[arg] = args[arg][0]

    # remove unexpected args unless co_flags & 0x08,
    # meaning function accepts **kw syntax
    if fc is None:
        args = {}
    elif not (fc.co_flags & 0x08):
        for name in list(args.keys()):
            if name not in expected:
                del args[name]

    return object(**args)


def redirect(req, location, permanent=0, text=None):
    """
    A convenience function to provide redirection
    """

    if not isinstance(location, str):
        raise TypeError("location must be of type str")

    if req.sent_bodyct:
        raise IOError("Cannot redirect after headers have already been sent.")

    req.err_headers_out["Location"] = location
    if permanent:
        req.status = apache.HTTP_MOVED_PERMANENTLY
    else:
        req.status = apache.HTTP_MOVED_TEMPORARILY

    if text is None:
        req.write('<p>The document has moved'
                  ' <a href="%s">here</a></p>\n'
                  % location)
    else:
        req.write(text)

    raise apache.SERVER_RETURN(apache.DONE)
