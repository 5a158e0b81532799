"""mod_python.Cookie for mpgate: HTTP cookies for handlers -- one Cookie
object per cookie, parsing of Cookie headers, and cookies signed with an
HMAC (SignedCookie) or carrying marshalled values (MarshalCookie).

Follows grisha/mod_python: lib/python/mod_python/Cookie.py (3.5.0.5) name
for name and behaviour for behaviour (mod_python.md §5.2): the attribute
slots and their order in str(), bare "secure"/"discard"/"httponly", the
literal "max_age=", no quoting, the regex tokenizer that turns every k=v
token into a cookie and drops "$" names, DOWNGRADE/IGNORE/EXCEPTION, and
the Cache-Control header add_cookie sends with the first Set-Cookie.

Deliberate differences (mod_python.md §8 row 8): SignedCookie and
MarshalCookie work on Python 3, where 3.5's fail on the first use (HMAC
with a str key, no digestmod, base64.encodestring). They keep the wire
format mod_python 3.2 wrote on Python 2, so cookies signed by such a site
still verify: the value is prefixed by hexdigest(HMAC-MD5(key=secret,
msg=name + value)); str secrets, names and values are UTF-8
(surrogateescape, so header bytes that are not UTF-8 survive).
Signatures are compared with hmac.compare_digest. MarshalCookie writes
marshal format version 2, which Python 2's marshal also reads (str values
as unicode); values a Python 2 site marshalled as str come back as bytes,
as marshal maps them.
"""

import base64
import binascii
import hashlib
import hmac
import marshal
import re
import time
from typing import Any, Callable, Dict, Optional


# _EXPIRES_FORMAT is the Netscape cookie date format mod_python writes and
# accepts for expires: "Wdy, DD-Mon-YYYY HH:MM:SS GMT".
_EXPIRES_FORMAT = "%a, %d-%b-%Y %H:%M:%S GMT"

# _MARSHAL_VERSION is the marshal format MarshalCookie writes: version 2 has
# no back-references and writes str as unicode, so Python 2's mod_python can
# read the cookies too.
_MARSHAL_VERSION = 2

# _BARE_ATTRS are written as a bare word when set, whatever their value.
_BARE_ATTRS = ("secure", "discard", "httponly")


class CookieError(Exception):
    """A cookie could not be signed, verified or unmarshalled."""


class metaCookie(type):
    """The metaclass of Cookie: gives each cookie class the attribute slots
    of the cookie standards (nothing else can be set) and an expires
    property that formats numbers as cookie dates."""

    def __new__(cls, clsname: str, bases: Any, clsdict: Dict[str, Any]) -> "metaCookie":
        _valid_attr = (
            "version", "path", "domain", "secure",
            "comment", "expires", "max_age", "samesite",
            # RFC 2965
            "commentURL", "discard", "port",
            # Microsoft Extension
            "httponly")

        # _valid_attr + property values (__slots__ prevents any other
        # attribute from being set)
        __slots__ = _valid_attr + ("name", "value", "_value",
                                   "_expires", "__data__")

        clsdict["_valid_attr"] = _valid_attr
        clsdict["__slots__"] = __slots__

        return type.__new__(cls, clsname, bases, clsdict)

    def __init__(cls, clsname: str, bases: Any, clsdict: Dict[str, Any]) -> None:

        def set_expires(self: Any, value: Any) -> None:
            if type(value) == type(""):
                # if it's a string, it should be valid format as per
                # Netscape spec
                try:
                    t = time.strptime(value, _EXPIRES_FORMAT)
                except ValueError:
                    raise ValueError("Invalid expires time: %s" % value)
                t = time.mktime(t)
            else:
                # otherwise assume it's a number representing time as from
                # time.time()
                t = value
                value = time.strftime(_EXPIRES_FORMAT, time.gmtime(t))

            self._expires = "%s" % value

        def get_expires(self: Any) -> str:
            return self._expires

        cls.expires = property(fget=get_expires, fset=set_expires)


# The intermediate class 3.5 creates to apply the metaclass on Python 2 and 3
# alike; kept so that Cookie's MRO is 3.5's.
_metaCookie = metaCookie("Cookie", (object, ), {})


class Cookie(_metaCookie):  # type: ignore[valid-type,misc]
    """One cookie (unlike the standard library's http.cookies, not a set of
    Morsels): Cookie(name, value, **attributes), attribute names lower-cased.
    str() gives the Set-Cookie value; no attempt is made to quote values,
    since doing so confuses most browsers."""

    DOWNGRADE = 0
    IGNORE = 1
    EXCEPTION = 3

    @classmethod
    def parse(Class, str: str, **kw: Any) -> Dict[str, "Cookie"]:
        """Parses a Cookie or Set-Cookie header value (without the header
        name) and returns a dict name -> Class instance."""
        return _parse_cookie(str, Class, **kw)

    def __init__(self, name: str, value: Any, **kw: Any) -> None:
        self.name, self.value = name, value

        for k in kw:
            setattr(self, k.lower(), kw[k])

        # subclasses can use this for internal stuff
        self.__data__ = {}  # type: Dict[str, Any]

    def _attributes(self) -> str:
        """Returns "; attr=value" for each attribute set, in slot order."""
        result = []
        for name in self._valid_attr:
            if hasattr(self, name):
                if name in _BARE_ATTRS:
                    result.append(name)
                else:
                    result.append("%s=%s" % (name, getattr(self, name)))
        return "".join("; " + r for r in result)

    def __str__(self) -> str:
        """Returns the cookie as a Set-Cookie header value."""
        return "%s=%s" % (self.name, self.value) + self._attributes()

    def __repr__(self) -> str:
        return "<%s: %s>" % (self.__class__.__name__, str(self))


def _wire_bytes(s: Any) -> bytes:
    """Returns the bytes of a secret, name or value as HMAC input: str as
    UTF-8 (surrogateescape: the header bytes it was decoded from), bytes as
    they are."""
    if isinstance(s, str):
        return s.encode("utf-8", "surrogateescape")
    if isinstance(s, (bytes, bytearray)):
        return bytes(s)
    raise TypeError("a cookie secret, name and value must be str or bytes, not %s" % type(s).__name__)


def _signature(secret: Any, name: Any, value: Any) -> str:
    """Returns mod_python's cookie signature: the hex HMAC-MD5 of name +
    value keyed by secret (Python 2's hmac.new(secret, name) default)."""
    mac = hmac.new(_wire_bytes(secret), _wire_bytes(name), hashlib.md5)
    mac.update(_wire_bytes(value))
    return mac.hexdigest()


class SignedCookie(Cookie):
    """A Cookie whose value is sent prefixed by an HMAC signature (32 hex
    digits), so that a change made on the client side is detected. The
    value itself is not encrypted."""

    @classmethod
    def parse(Class, s: str, secret: Any, mismatch: int = Cookie.DOWNGRADE,  # type: ignore[override]
              **kw: Any) -> Dict[str, Cookie]:
        """Parses s and verifies each cookie with secret; one whose
        signature does not match becomes a plain Cookie (DOWNGRADE), is
        left out (IGNORE) or raises CookieError (EXCEPTION)."""
        return _verified(_parse_cookie(s, Class, **kw), lambda c: c.unsign(secret), mismatch)

    def __init__(self, name: str, value: Any, secret: Any = None, **kw: Any) -> None:
        Cookie.__init__(self, name, value, **kw)

        self.__data__["secret"] = secret

    def hexdigest(self, str: Any) -> str:
        """Returns the signature of this cookie's name with str as value."""
        if not self.__data__["secret"]:
            raise CookieError("Cannot sign without a secret")
        return _signature(self.__data__["secret"], self.name, str)

    def __str__(self) -> str:
        """Returns the Set-Cookie value, the value signed."""
        return "%s=%s%s" % (self.name, self.hexdigest(self.value), self.value) + self._attributes()

    def unsign(self, secret: Any) -> None:
        """Checks the signature in front of the value with secret and strips
        it; raises CookieError when it does not match."""
        value = self.value
        if not isinstance(value, (str, bytes)):
            raise CookieError("Incorrectly Signed Cookie: %s=%s" % (self.name, value))
        sig, val = value[:32], value[32:]
        if not hmac.compare_digest(_signature(secret, self.name, val).encode("ascii"), _wire_bytes(sig)):
            raise CookieError("Incorrectly Signed Cookie: %s=%s" % (self.name, value))
        self.value = val
        self.__data__["secret"] = secret


def _verified(cookies: Dict[str, Any], check: Callable[[Any], None], mismatch: int) -> Dict[str, Any]:
    """Runs check on each parsed cookie; one that fails (CookieError) is
    downgraded to a plain Cookie, left out (IGNORE) or raises (EXCEPTION),
    as mismatch says (SignedCookie.parse and MarshalCookie.parse in 3.5)."""
    for k in list(cookies):
        c = cookies[k]
        try:
            check(c)
        except CookieError:
            if mismatch == Cookie.EXCEPTION:
                raise
            elif mismatch == Cookie.IGNORE:
                del cookies[k]
            else:
                # downgrade to Cookie
                cookies[k] = Cookie.parse(Cookie.__str__(c))[k]
    return cookies


class MarshalCookie(SignedCookie):
    """A SignedCookie whose value may be any marshallable object: it is
    sent as signature + base64(marshal(value)). The signature is verified
    before anything is unmarshalled."""

    @classmethod
    def parse(Class, s: str, secret: Any, mismatch: int = Cookie.DOWNGRADE,  # type: ignore[override]
              **kw: Any) -> Dict[str, Cookie]:
        """Parses s, verifies and unmarshals each cookie; a failure is
        handled as mismatch says (see SignedCookie.parse)."""
        return _verified(_parse_cookie(s, Class, **kw), lambda c: c.unmarshal(secret), mismatch)

    def __str__(self) -> str:
        """Returns the Set-Cookie value: the value marshalled, base64'd
        (on one line) and signed."""
        m = base64.b64encode(marshal.dumps(self.value, _MARSHAL_VERSION)).decode("ascii")
        return "%s=%s%s" % (self.name, self.hexdigest(m), m) + self._attributes()

    def unmarshal(self, secret: Any) -> None:
        """Verifies the signature with secret, then replaces the value by
        the object it marshals; raises CookieError when either fails."""
        self.unsign(secret)

        try:
            data = base64.decodebytes(_wire_bytes(self.value))
        except (binascii.Error, TypeError, ValueError):
            raise CookieError("Cannot base64 Decode Cookie: %s=%s" % (self.name, self.value))

        try:
            self.value = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            raise CookieError("Cannot Unmarshal Cookie: %s=%s" % (self.name, self.value))


# This is a simplified and in some places corrected (at least I think it is)
# pattern from standard lib Cookie.py (mod_python's comment).
_cookiePattern = re.compile(
    r"(?x)"                       # Verbose pattern
    r"[,\ ]*"                     # space/comma (RFC2616 4.2) before attr-val is eaten
    r"(?P<key>"                   # Start of group 'key'
    r"[^;\ =]+"                   # anything but ';', ' ' or '='
    r")"                          # End of group 'key'
    r"\ *(=\ *)?"                 # a space, then may be "=", more space
    r"(?P<val>"                   # Start of group 'val'
    r'"(?:[^\\"]|\\.)*"'          # a doublequoted string
    r"|"                          # or
    r"[^;]*"                      # any word or empty string
    r")"                          # End of group 'val'
    r"\s*;?"                      # probably ending in a semi-colon
)


def _parse_cookie(str: str, Class: Any, names: Optional[Any] = None) -> Dict[str, Any]:
    """Returns a dict name -> Class(name, value) of every k=v token of str
    (the last of a name wins), leaving out names starting with "$" (RFC 2965
    attributes, MODPYTHON-3) and, when names is given, names not in it."""
    result = {}

    for match in _cookiePattern.finditer(str):
        key, val = match.group("key"), match.group("val")

        if key[0] != "$" and (names is None or key in names):
            result[key] = Class(key, val)

    return result


def add_cookie(req: Any, cookie: Any, value: str = "", **kw: Any) -> None:
    """Adds a Set-Cookie header to req.headers_out for cookie (a Cookie, or
    a name to make one of with value and attributes kw); the first one also
    adds Cache-Control: no-cache="set-cookie" so that caches keep it."""
    # is this a cookie?
    if not isinstance(cookie, Cookie):
        # make a cookie
        cookie = Cookie(cookie, value, **kw)

    if "Set-Cookie" not in req.headers_out:
        req.headers_out.add("Cache-Control", 'no-cache="set-cookie"')

    req.headers_out.add("Set-Cookie", str(cookie))


def get_cookies(req: Any, Class: Any = Cookie, **kw: Any) -> Dict[str, Any]:
    """Returns the cookies of req's Cookie header(s) parsed by Class.parse
    (kw: its arguments, e.g. secret); {} without a Cookie header."""
    if "cookie" not in req.headers_in:
        return {}

    cookies = req.headers_in["cookie"]
    if type(cookies) == type([]):
        cookies = "; ".join(cookies)

    return Class.parse(cookies, **kw)


def get_cookie(req: Any, name: str, Class: Any = Cookie, **kw: Any) -> Any:
    """Returns req's cookie name parsed by Class, or None."""
    cookies = get_cookies(req, Class, names=[name], **kw)
    if name in cookies:
        return cookies[name]
    return None
