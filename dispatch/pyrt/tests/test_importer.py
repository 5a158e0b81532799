"""Tests of the site-module importer (mpgate.importer): real files in
temporary directories, loaded by real worker processes driven over the wire
(tests/harness.py), with CONTROL modules.invalidate sent as the daemon does;
the resolution rules alone are also checked in-process."""

import html
import importlib.machinery
import json
import os
import shutil
import tempfile
import textwrap
import time
import unittest

from mpgate import importer
from tests import harness as h


class SiteTestCase(unittest.TestCase):
    """One worker and one temporary directory per test."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mpgate-importer-test-")
        self.worker = h.WorkerProcess()
        self.next_id = 1

    def tearDown(self):
        h.finish_worker(self.worker, self.tmp)

    def path(self, rel):
        return os.path.join(self.tmp, rel)

    def write(self, rel, text):
        """Writes the file rel (dedented); returns its path."""
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(textwrap.dedent(text))
        return p

    def run_handler(self, handler, directory, debug=True, options=None, directives=None, is_location=False,
                    document_root=None):
        """Runs one request whose PythonHandler is handler in directory (a
        path relative to the temporary directory)."""
        d = self.path(directory) + "/"
        entry = {"handler": handler, "directory": d if not is_location else "/loc", "is_location": is_location,
                 "silent": False}
        conf = h.config(handlers={"PythonHandler": [entry]},
                        directives=[["PythonDebug", "1" if debug else "0"]] + (directives or []),
                        options=options or [])
        rid = self.next_id
        self.next_id += 1
        extra = {}
        if document_root is not None:
            extra["document_root"] = document_root
        return self.worker.request(rid, conf, conf_id=rid, meta_=h.meta("/x", d + "x", **extra))

    def body(self, r):
        """Returns the body of a successful response."""
        self.assertEqual((r.end.result, r.status), (0, 200), r.body.decode(errors="replace") + r.log_text())
        return r.body.decode()


class NamesTest(SiteTestCase):

    def test_same_names_in_two_directories(self):
        for name in ("a", "b"):
            self.write(name + "/index.py", '''
                import sys
                import config
                from mod_python import apache
                def handler(req):
                    req.write("%s %s %s %s" % (config.NAME, __name__, config.__name__,
                                               "config" in sys.modules or "index" in sys.modules))
                    return apache.OK
            ''')
            self.write(name + "/config.py", "NAME = %r\n" % name)
        self.assertEqual(self.body(self.run_handler("index", "a")), "a index config False")
        self.assertEqual(self.body(self.run_handler("index", "b")), "b index config False")
        self.assertEqual(self.body(self.run_handler("index", "a")), "a index config False")

    def test_sibling_import_is_reported_at_end(self):
        index = self.write("s/index.py", '''
            import helper
            from mod_python import apache
            def handler(req):
                req.write(helper.WORD)
                return apache.OK
        ''')
        helper = self.write("s/helper.py", "WORD = 'sibling'\n")
        before = time.time()
        r = self.run_handler("index", "s")
        self.assertEqual(self.body(r), "sibling")
        mods = r.modules()
        self.assertEqual([m["file"] for m in mods], [helper, index], "dependencies finish loading first")
        for m, path, name, deps in ((mods[0], helper, "helper", []), (mods[1], index, "index", [helper])):
            st = os.stat(path)
            self.assertEqual((m["name"], m["generation"], m["deps"], m["reason"]), (name, 1, deps, "first import"))
            self.assertEqual((m["mtime_ns"], m["size"], m["ino"]), (st.st_mtime_ns, st.st_size, st.st_ino))
            self.assertGreaterEqual(m["loaded"], before)
            self.assertLessEqual(m["loaded"], time.time())
        # The JSON is compact, its keys in the order of the wire contract.
        raw = [v for k, v in r.end.info if k == "module"][0]
        self.assertEqual(list(json.loads(raw)), ["file", "name", "generation", "deps", "mtime_ns", "size", "ino",
                                                 "loaded", "reason"])
        self.assertNotIn(", ", raw)
        self.assertNotIn(": ", raw)
        # Cached: nothing new to report.
        r = self.run_handler("index", "s")
        self.assertEqual((self.body(r), r.modules()), ("sibling", []))

    def test_module_attributes(self):
        self.write("s/index.py", '''
            import inspect, sys
            import pkg.sub
            from mod_python import apache
            def handler(req):
                out = []
                for m in (sys.modules[__name__] if __name__ in sys.modules else None, pkg, pkg.sub):
                    if m is None:
                        out.append("index not in sys.modules")
                        continue
                    out.append("%s|%s|%s|%s|%s|%s|%s" % (
                        m.__name__, m.__package__, m.__spec__.name, m.__spec__.origin == m.__file__,
                        getattr(m, "__path__", None), m.__mp_path__, m.__name__ in sys.modules))
                out.append(inspect.getsource(pkg.sub.f).strip())
                out.append(m.__loader__.get_source(m.__name__).strip())
                req.write("\\n".join(out))
                return apache.OK
        ''')
        self.write("s/pkg/__init__.py", "")
        self.write("s/pkg/sub.py", "def f():\n    return 1\n")
        lines = self.body(self.run_handler("index", "s")).split("\n")
        self.assertEqual(lines, [
            "index not in sys.modules",
            "pkg|pkg|pkg|True|[%r]|[]|False" % self.path("s/pkg"),
            "pkg.sub|pkg|pkg.sub|True|None|[]|False",
            "def f():", "    return 1",  # inspect.getsource
            "def f():", "    return 1",  # __loader__.get_source
        ])

    def test_traceback_shows_site_source(self):
        self.write("s/index.py", '''
            import helper
            def handler(req):
                return helper.fail()
        ''')
        self.write("s/helper.py", '''
            def fail():
                raise ValueError("from the helper")
        ''')
        page = html.unescape(self.run_handler("index", "s").body.decode())
        self.assertIn('File "%s", line 3, in fail' % self.path("s/helper.py"), page)
        self.assertIn('raise ValueError("from the helper")', page)
        self.assertNotIn("importer.py", page, "the importer's frames are left out, as importlib's are")


class PackagesTest(SiteTestCase):

    def setUp(self):
        super().setUp()
        self.write("s/pkg/__init__.py", "P = 'pkg'\n")
        self.write("s/pkg/sub.py", '''
            from . import x
            from .x import y
            def f():
                return "f:%s:%s:%s" % (__name__, x.__name__, y)
        ''')
        self.write("s/pkg/x.py", "y = 'y'\n")
        self.write("s/pkg/inner/__init__.py", "")
        self.write("s/pkg/inner/deep.py", '''
            from .. import x as px
            from ..sub import f
            from . import sibling
            import helper
            WHO = "%s %s %s %s %s" % (__name__, __package__, px.__name__, sibling.__name__, helper.__name__)
        ''')
        self.write("s/pkg/inner/sibling.py", "")
        self.write("s/pkg/inner/helper.py", "")

    def test_import_forms(self):
        self.write("s/index.py", '''
            import importlib
            import pkg.sub
            import pkg.inner.deep as deep
            from pkg import sub
            from pkg.sub import f
            from pkg import x, inner
            from mod_python import apache
            def handler(req):
                out = [pkg.P, str(pkg.sub is sub), f(), deep.WHO, str(inner.deep is deep),
                       str(importlib.import_module("pkg.sub") is sub),
                       str(__import__("pkg.x", fromlist=["y"]) is x)]
                req.write("\\n".join(out))
                return apache.OK
        ''')
        self.assertEqual(self.body(self.run_handler("index", "s")).split("\n"), [
            "pkg", "True", "f:pkg.sub:pkg.x:y",
            "pkg.inner.deep pkg.inner pkg.x pkg.inner.sibling pkg.inner.helper",
            "True", "True", "True"])

    def test_package_deps_include_parent(self):
        self.write("s/index.py", "import pkg.inner.deep\ndef handler(req):\n    return 0\n")
        r = self.run_handler("index", "s")
        self.body(r)
        deps = {os.path.relpath(m["file"], self.tmp): sorted(os.path.relpath(d, self.tmp) for d in m["deps"])
                for m in r.modules()}
        self.assertEqual(deps["s/pkg/sub.py"], ["s/pkg/__init__.py", "s/pkg/x.py"])
        self.assertEqual(deps["s/pkg/inner/__init__.py"], ["s/pkg/__init__.py"])
        self.assertEqual(deps["s/pkg/inner/deep.py"], ["s/pkg/__init__.py", "s/pkg/inner/__init__.py",
                                                      "s/pkg/inner/helper.py", "s/pkg/inner/sibling.py",
                                                      "s/pkg/sub.py", "s/pkg/x.py"])
        self.assertEqual(deps["s/index.py"], ["s/pkg/__init__.py", "s/pkg/inner/__init__.py",
                                              "s/pkg/inner/deep.py"])

    def test_errors_are_pythons(self):
        self.write("s/top.py", "from . import anything\n")
        self.write("s/beyond.py", "")
        self.write("s/pkg/far.py", "from ... import x\n")
        self.write("s/index.py", '''
            from mod_python import apache
            def attempt(source):
                try:
                    exec(source, globals())
                except ImportError as e:
                    return "%s: %s [%s]" % (type(e).__name__, e, e.name)
                return "ok"
            def handler(req):
                req.write("\\n".join(attempt(s) for s in (
                    "import pkg.nosuch", "from pkg import nosuch", "import beyond.x", "import top",
                    "import pkg.far", "import no_such_module_anywhere")))
                return apache.OK
        ''')
        lines = self.body(self.run_handler("index", "s")).split("\n")
        self.assertEqual(lines[0], "ModuleNotFoundError: No module named 'pkg.nosuch' [pkg.nosuch]")
        self.assertEqual(lines[1], "ImportError: cannot import name 'nosuch' from 'pkg' (%s) [pkg]"
                         % self.path("s/pkg/__init__.py"))
        self.assertEqual(lines[2], "ModuleNotFoundError: No module named 'beyond.x'; 'beyond' is not a package "
                         "[beyond.x]")
        self.assertEqual(lines[3], "ImportError: attempted relative import with no known parent package [None]")
        self.assertEqual(lines[4], "ImportError: attempted relative import beyond top-level package [None]")
        self.assertEqual(lines[5], "ModuleNotFoundError: No module named 'no_such_module_anywhere' "
                         "[no_such_module_anywhere]")

    def test_plain_import_inside_a_package_searches_its_directory_first(self):
        # dirname(F) comes first in the search order: inside a package that
        # is the package's directory, so `import helper` there finds the
        # member pkg2.helper (as Python 2's implicit relative import did),
        # also while pkg2/__init__.py itself is running.
        self.write("s/pkg2/__init__.py", "import helper\nH = helper.__name__\n")
        self.write("s/pkg2/helper.py", "")
        self.write("s/helper.py", "")
        self.write("s/index.py", '''
            import pkg2, helper
            def handler(req):
                req.write("%s %s %s" % (pkg2.H, helper.__name__, pkg2.helper is not helper))
                return 0
        ''')
        self.assertEqual(self.body(self.run_handler("index", "s")), "pkg2.helper helper True")

    def test_reloaded_package_keeps_its_imported_submodules(self):
        self.write("s/index.py", '''
            import pkg
            import pkg.sub
            def handler(req):
                req.write("%s %s %s" % (pkg.P, pkg.sub.f(), pkg.sub.__package__))
                return 0
        ''')
        self.write("s/user.py", '''
            import pkg
            def handler(req):
                req.write("%s %s" % (pkg.P, pkg.sub.f()))
                return 0
        ''')
        self.assertEqual(self.body(self.run_handler("index", "s")), "pkg f:pkg.sub:pkg.x:y pkg")
        self.assertEqual(self.body(self.run_handler("user", "s")), "pkg f:pkg.sub:pkg.x:y")
        init = self.write("s/pkg/__init__.py", "P = 'pkg2'\n")
        self.worker.invalidate(changed=[init], dependent=[self.path("s/pkg/sub.py"), self.path("s/pkg/x.py"),
                                                          self.path("s/user.py"), self.path("s/index.py")])
        # user.py only imports pkg: pkg.sub, imported before by index.py,
        # is bound to the new package (and reloaded, being a dependent).
        r = self.run_handler("user", "s")
        self.assertEqual(self.body(r), "pkg2 f:pkg.sub:pkg.x:y")
        self.assertEqual(sorted((os.path.relpath(m["file"], self.tmp), m["generation"]) for m in r.modules()),
                         [("s/pkg/__init__.py", 2), ("s/pkg/sub.py", 2), ("s/pkg/x.py", 2), ("s/user.py", 2)])

    def test_namespace_package(self):
        self.write("s/ns/mod.py", "from . import other\nNAME = __name__ + ' ' + other.__name__\n")
        self.write("s/ns/other.py", "")
        self.write("s/index.py", '''
            import ns.mod
            def handler(req):
                req.write("%s %s" % (ns.mod.NAME, ns.__path__))
                return 0
        ''')
        r = self.run_handler("index", "s")
        self.assertEqual(self.body(r), "ns.mod ns.other [%r]" % self.path("s/ns"))
        self.assertEqual(sorted(os.path.relpath(m["file"], self.tmp) for m in r.modules()),
                         ["s/index.py", "s/ns/mod.py", "s/ns/other.py"], "namespace packages are not reported")

    def test_circular_import_inside_package(self):
        self.write("s/cyc/__init__.py", "")
        self.write("s/cyc/a.py", "from . import b\nNAME = 'a'\ndef other():\n    return b.NAME\n")
        self.write("s/cyc/b.py", "from . import a\nNAME = 'b'\ndef other():\n    return a.NAME\n")
        self.write("s/index.py", '''
            from cyc import a, b
            def handler(req):
                req.write(a.other() + b.other())
                return 0
        ''')
        r = self.run_handler("index", "s")
        self.assertEqual(self.body(r), "ba")
        deps = {os.path.basename(m["file"]): sorted(os.path.basename(d) for d in m["deps"]) for m in r.modules()}
        self.assertEqual((deps["a.py"], deps["b.py"]), (["__init__.py", "b.py"], ["__init__.py", "a.py"]))


class ImportModuleTest(SiteTestCase):

    def test_forms(self):
        self.write("lib/libmod.py", "NAME = 'lib'\n")
        self.write("s/rel.py", "NAME = 'rel'\n")
        self.write("s/sub/deeper.py", '''
            from mod_python import apache
            up = apache.import_module("../rel.py")
            NAME = "deeper+" + up.NAME
        ''')
        self.write("s/dir/module.py", "NAME = 'pseudo ' + __name__\n")
        self.write("s/tilde.py", "NAME = 'tilde'\n")
        absolute = self.write("elsewhere/abs.py", "NAME = 'abs ' + repr(__mp_path__)\n")
        self.write("s/index.py", '''
            import os
            from mod_python import apache
            def handler(req):
                out = [
                    apache.import_module("libmod", path=[req.get_options()["lib"]]).NAME,
                    apache.import_module("./rel.py").NAME,
                    apache.import_module("./sub/deeper.py").NAME,
                    apache.import_module("~/tilde.py").NAME,
                    apache.import_module(req.get_options()["abs"], path=["/p"]).NAME,
                    apache.import_module("dir/module").NAME,
                    str(apache.import_module("rel") is apache.import_module("./rel.py")),
                    apache.import_module("json").__name__,
                ]
                req.write("\\n".join(out))
                return apache.OK
        ''')
        r = self.run_handler("index", "s", options=[["lib", self.path("lib")], ["abs", absolute]])
        self.assertEqual(self.body(r).split("\n"), ["lib", "rel", "deeper+rel", "tilde", "abs ['/p']",
                                                    "pseudo module", "True", "json"])
        deps = {m["file"]: m["deps"] for m in r.modules()}
        self.assertEqual(deps[self.path("s/sub/deeper.py")], [self.path("s/rel.py")])
        self.assertEqual(deps[self.path("s/index.py")], [
            self.path("lib/libmod.py"), self.path("s/rel.py"), self.path("s/sub/deeper.py"), self.path("s/tilde.py"),
            absolute, self.path("s/dir/module.py")], "request-time import_module calls are edges too")

    def test_reimporting_notice(self):
        self.write("s/index.py", "def handler(req):\n    return 0\n")
        r = self.run_handler("index", "s")
        self.assertEqual([m for _, m in r.logs], ["mod_python: (Re)importing module 'index'"])
        r = self.run_handler("index", "s")
        self.assertEqual(r.logs, [])
        self.worker.invalidate(changed=[self.path("s/index.py")])
        r = self.run_handler("index", "s")
        self.assertEqual(r.logs, [(5, "mod_python: (Re)importing module 'index'")])
        self.worker.invalidate(changed=[self.path("s/index.py")])
        r = self.run_handler("index", "s", debug=False)
        self.assertEqual(r.logs, [], "the notice follows PythonDebug")


class ReloadTest(SiteTestCase):

    def setUp(self):
        super().setUp()
        self.h = self.write("s/h.py", '''
            import dep
            from mod_python import apache
            def handler(req):
                req.write("%s %d" % (dep.VALUE, id(globals())))
                return apache.OK
        ''')
        self.dep = self.write("s/dep.py", "VALUE = 'one'\n")
        self.other = self.write("s/other.py", '''
            def handler(req):
                req.write(str(id(globals())))
                return 0
        ''')

    def get(self, handler="h", **kw):
        return self.body(self.run_handler(handler, "s", **kw))

    def test_invalidate_reloads_dependency_and_dependent(self):
        value, first_id = self.get().split()
        other_id = self.get("other")
        self.assertEqual(value, "one")
        self.write("s/dep.py", "VALUE = 'two'\n")
        self.worker.invalidate(changed=[self.dep], dependent=[self.h])
        r = self.run_handler("h", "s")
        value, second_id = self.body(r).split()
        self.assertEqual(value, "two")
        self.assertNotEqual(second_id, first_id, "the dependent is a new module object")
        gens = {m["file"]: (m["generation"], m["reason"]) for m in r.modules()}
        self.assertEqual(gens, {self.dep: (2, "changed on disk"), self.h: (2, "dependency changed")})
        r = self.run_handler("other", "s")
        self.assertEqual((self.body(r), r.modules()), (other_id, []), "non-dependents keep their objects")
        self.assertEqual(self.get().split()[1], second_id)

    def test_autoreload_off_keeps_old_code(self):
        self.get()
        self.write("s/dep.py", "VALUE = 'two'\n")
        self.worker.invalidate(changed=[self.dep], dependent=[self.h])
        off = [["PythonAutoReload", "0"]]
        r = self.run_handler("h", "s", directives=off)
        self.assertEqual((self.body(r).split()[0], r.modules()), ("one", []))
        self.assertEqual(self.get(directives=off).split()[0], "one")
        self.assertEqual(self.get().split()[0], "two", "the next request with autoreload On reloads")

    def test_import_module_autoreload_argument(self):
        self.write("s/h2.py", '''
            from mod_python import apache
            def handler(req):
                req.write(apache.import_module("dep", autoreload=req.get_options().get("ar") == "1").VALUE)
                return apache.OK
        ''')
        self.get("h2")
        self.write("s/dep.py", "VALUE = 'two'\n")
        self.worker.invalidate(changed=[self.dep])
        self.assertEqual(self.get("h2", options=[["ar", "0"]]), "one")
        self.assertEqual(self.get("h2", directives=[["PythonAutoReload", "0"]], options=[["ar", "1"]]), "two")

    def test_one_module_per_file_within_a_request(self):
        self.write("s/h3.py", '''
            import dep
            from mod_python import apache
            def handler(req):
                import dep as again
                req.write("%s %s %s" % (dep.VALUE, again.VALUE, again is apache.import_module("dep")))
                return apache.OK
        ''')
        self.write("s/dep.py", "VALUE = 'one'\n")
        self.get("h3")
        self.write("s/dep.py", "VALUE = 'two'\n")
        # h3 is not listed as dependent: the request loads the old h3, whose
        # request-time `import dep` reloads dep, and every later import in
        # the request gets that same new object.
        self.worker.invalidate(changed=[self.dep])
        self.assertEqual(self.get("h3"), "one two True")

    def test_request_time_import_grows_deps(self):
        lazy = self.write("s/lazy.py", '''
            def handler(req):
                if req.get_options().get("late"):
                    import late
                    req.write(late.V)
                return 0
        ''')
        late = self.write("s/late.py", "V = 'late'\n")
        r = self.run_handler("lazy", "s")
        self.assertEqual([(m["file"], m["deps"]) for m in r.modules()], [(lazy, [])])
        r = self.run_handler("lazy", "s", options=[["late", "1"]])
        self.assertEqual(self.body(r), "late")
        self.assertEqual([(m["file"], m["generation"], m["reason"], m["deps"]) for m in r.modules()],
                         [(late, 1, "first import", []), (lazy, 1, "first import", [late])])
        r = self.run_handler("lazy", "s", options=[["late", "1"]])
        self.assertEqual(r.modules(), [], "no new edges")

    def test_mp_clone_keeps_a_counter(self):
        self.write("s/counter.py", '''
            VERSION = 1
            if "state" not in globals():
                state = {"count": 0}
            def __mp_clone__(module):
                module.state = state
            def handler(req):
                state["count"] += 1
                req.write("v%d count=%d" % (VERSION, state["count"]))
                return 0
        ''')
        self.assertEqual(self.get("counter"), "v1 count=1")
        self.assertEqual(self.get("counter"), "v1 count=2")
        with open(self.path("s/counter.py")) as f:
            path = self.write("s/counter.py", f.read().replace("VERSION = 1", "VERSION = 2"))
        self.worker.invalidate(changed=[path])
        self.assertEqual(self.get("counter"), "v2 count=3")

    def test_mp_purge_when_clone_fails(self):
        source = '''
            import sys
            VERSION = 1
            if "state" not in globals():
                state = {"count": 0}
            def __mp_clone__(module):
                raise RuntimeError("cannot clone")
            def __mp_purge__():
                sys.stderr.write("purged v%d\\n" % VERSION)
            def handler(req):
                state["count"] += 1
                req.write("v%d count=%d" % (VERSION, state["count"]))
                return 0
        '''
        path = self.write("s/counter.py", source)
        self.get("counter")
        self.assertEqual(self.get("counter"), "v1 count=2")
        self.write("s/counter.py", source.replace("VERSION = 1", "VERSION = 2"))
        self.worker.invalidate(changed=[path])
        r = self.run_handler("counter", "s")
        self.assertEqual(self.body(r), "v2 count=1", "a fresh module")
        log = r.log_text()
        self.assertIn("mpgate importer: __mp_clone__ of '%s' failed" % path, log)
        self.assertIn("RuntimeError: cannot clone", log)
        self.assertIn("purged v1", log)

    def test_syntax_error_then_fix(self):
        self.get()
        self.write("s/dep.py", "VALUE = 'broken\n")
        self.worker.invalidate(changed=[self.dep], dependent=[self.h])
        for _ in range(2):
            r = self.run_handler("h", "s")
            self.assertEqual((r.status, r.end.result), (500, -2))
            page = html.unescape(r.body.decode())
            self.assertIn('Mod_python error: "PythonHandler h"', page)
            self.assertIn('File "%s", line 1' % self.dep, page)
            self.assertIn("SyntaxError: unterminated string literal", page)
            self.assertEqual(r.modules(), [])
        self.write("s/dep.py", "VALUE = 'fixed'\n")
        self.worker.invalidate(changed=[self.dep], dependent=[self.h])
        r = self.run_handler("h", "s")
        self.assertEqual(self.body(r).split()[0], "fixed")
        self.assertEqual(sorted(m["generation"] for m in r.modules()), [2, 2], "failed attempts are no generation")

    def test_error_at_import_keeps_old_module_for_autoreload_off(self):
        self.get()
        self.write("s/dep.py", "raise RuntimeError('at import')\n")
        self.worker.invalidate(changed=[self.dep], dependent=[self.h])
        r = self.run_handler("h", "s")
        self.assertIn("RuntimeError: at import", r.body.decode())
        self.assertEqual(self.get(directives=[["PythonAutoReload", "0"]]).split()[0], "one")

    def test_deleted_file(self):
        self.write("s/direct.py", '''
            from mod_python import apache
            def handler(req):
                return apache.import_module(req.get_options()["dep"]).VALUE and 0
        ''')
        self.get()
        self.body(self.run_handler("direct", "s", options=[["dep", self.dep]]))
        os.remove(self.dep)
        self.worker.invalidate(changed=[self.dep], dependent=[self.h, self.path("s/direct.py")], rescan=True)
        r = self.run_handler("h", "s")
        self.assertEqual(r.status, 500)
        self.assertIn("ModuleNotFoundError: No module named 'dep': file '%s' does not exist" % self.dep,
                      html.unescape(r.body.decode()))
        r = self.run_handler("direct", "s", options=[["dep", self.dep]])
        self.assertIn("ModuleNotFoundError: No module named 'dep': file '%s' does not exist" % self.dep,
                      html.unescape(r.body.decode()))
        self.write("s/dep.py", "VALUE = 'back'\n")
        self.worker.invalidate(rescan=True)
        self.assertEqual(self.get().split()[0], "back")

    def test_a_failure_is_not_cached(self):
        self.write("s/later.py", '''
            def handler(req):
                import not_yet
                req.write(not_yet.V)
                return 0
        ''')
        r = self.run_handler("later", "s")
        self.assertIn("No module named 'not_yet'", html.unescape(r.body.decode()))
        self.write("s/not_yet.py", "V = 'now'\n")
        self.assertEqual(self.get("later"), "now")

    def test_freeze_modules(self):
        self.write("s/freeze.py", '''
            from mod_python import apache
            def handler(req):
                apache.freeze_modules()
                return 0
        ''')
        self.get()
        self.get("freeze")
        self.write("s/dep.py", "VALUE = 'two'\n")
        self.worker.invalidate(changed=[self.dep], dependent=[self.h])
        self.assertEqual(self.get().split()[0], "one")

    def test_importer_log(self):
        opts = [["mod_python.importer.log", "On"]]
        r = self.run_handler("h", "s", options=opts)
        self.body(r)
        self.assertEqual([m for _, m in r.logs if m.startswith("mpgate importer")], [
            "mpgate importer: loading '%s' as 'h' (first import)" % self.h,
            "mpgate importer: loading '%s' as 'dep' (first import, from %s)" % (self.dep, self.h),
        ])
        self.worker.invalidate(changed=[self.dep], dependent=[self.h])
        r = self.run_handler("h", "s", options=opts)
        self.assertEqual([m for _, m in r.logs if m.startswith("mpgate importer")], [
            "mpgate importer: reloading '%s' as 'h' (generation 2: dependency changed)" % self.h,
            "mpgate importer: reloading '%s' as 'dep' (generation 2: changed on disk)" % self.dep,
        ])
        self.worker.invalidate(changed=[self.dep], dependent=[self.h])
        r = self.run_handler("h", "s", options=[["mod_python.importer.log", "off"]])
        self.assertEqual([m for _, m in r.logs if m.startswith("mpgate importer")], [])


class SearchOrderTest(SiteTestCase):

    def test_importer_path(self):
        self.write("s/lib/helper.py", "WHERE = 'lib under the handler root'\n")
        self.write("shared/common.py", "WHERE = 'shared'\n")
        self.write("s/index.py", '''
            def handler(req):
                import helper, common
                req.write(helper.WHERE + "|" + common.WHERE)
                return 0
        ''')
        r = self.run_handler("index", "s", options=[["mod_python.importer.path",
                                                     "['~/lib', %r]" % self.path("shared")]])
        self.assertEqual(self.body(r), "lib under the handler root|shared")

    def test_importer_path_tilde_is_document_root_for_location(self):
        self.write("root/rootmod.py", "WHERE = 'document root'\n")
        self.write("s/loc.py", '''
            def handler(req):
                import rootmod
                req.write(rootmod.WHERE)
                return 0
        ''')
        r = self.run_handler("loc", "s", is_location=True, document_root=self.path("root"),
                             options=[["mod_python.importer.path", "['~', %r]" % self.path("s")]])
        self.assertEqual(self.body(r), "document root")

    def test_bad_importer_path_is_reported(self):
        self.write("s/index.py", "def handler(req):\n    import somewhere\n    return 0\n")
        r = self.run_handler("index", "s", options=[["mod_python.importer.path", "not a list"]])
        self.assertIn("PythonOption mod_python.importer.path 'not a list' is not a Python list literal",
                      html.unescape(r.body.decode()))

    def test_stdlib_stays_normal(self):
        self.write("other/json.py", "FAKE = True\n")
        self.write("other/sys.py", "FAKE = True\n")
        self.write("s/sys.py", "FAKE = True\n")
        self.write("s/index.py", '''
            import json, sys
            import importlib
            def handler(req):
                import email.utils
                out = [json.__file__, str(sys.modules["json"] is json), str(hasattr(sys, "FAKE")),
                       str(importlib.import_module("json") is json), email.utils.__name__,
                       str(sys.modules.get("email.utils") is email.utils)]
                req.write("\\n".join(out))
                return 0
        ''')
        lines = self.body(self.run_handler("index", "s")).split("\n")
        self.assertTrue(lines[0].startswith(os.path.dirname(os.__file__)), lines[0])
        self.assertEqual(lines[1:], ["True", "False", "True", "email.utils", "True"])

    def test_sys_modules_wins_over_sys_path(self):
        # Another handler directory, prepended to sys.path by the dispatcher,
        # holds json.py: json is already imported, so Python's rule (sys.modules
        # first) keeps the real one, while a sibling json.py would win.
        self.write("b/json.py", "FAKE = 'b'\n")
        self.write("b/index.py", "def handler(req):\n    return 0\n")
        self.write("a/index.py", '''
            import json
            def handler(req):
                req.write(str(hasattr(json, "FAKE")))
                return 0
        ''')
        self.body(self.run_handler("index", "b"))
        self.assertEqual(self.body(self.run_handler("index", "a")), "False")

    def test_dispatcher_searches_handler_directory_first(self):
        self.write("s/index.py", "def handler(req):\n    req.write('handler dir')\n    return 0\n")
        self.write("lib/index.py", "def handler(req):\n    req.write('importer path')\n    return 0\n")
        r = self.run_handler("index", "s", options=[["mod_python.importer.path", "[%r]" % self.path("lib")]])
        self.assertEqual(self.body(r), "handler dir")


class SiteCodeTest(SiteTestCase):
    """Idioms of real site code that lean on Python's import semantics."""

    def test_dataclass_with_string_annotations(self):
        # dataclasses, typing and enum look the class's module up in
        # sys.modules while the class body's module runs (Python's import
        # guarantees it is there); afterwards it is not.
        self.write("s/dc.py", """
            from __future__ import annotations
            import dataclasses, enum, sys, typing
            from typing import ClassVar, List
            THIS = sys.modules[__name__]
            @dataclasses.dataclass
            class Point:
                x: int
                tags: List[str] = dataclasses.field(default_factory=list)
                count: ClassVar[int] = 0
            HINTS = sorted(typing.get_type_hints(Point))
            class Color(enum.Enum):
                RED = 1
        """)
        self.write("s/index.py", """
            import pickle, sys, dataclasses
            import dc
            def handler(req):
                req.write(repr([dc.THIS is dc, [f.name for f in dataclasses.fields(dc.Point)], dc.HINTS,
                                dc.Point(1), pickle.loads(pickle.dumps(dc.Color.RED)) is dc.Color.RED,
                                "dc" in sys.modules]))
                return 0
        """)
        self.assertEqual(self.body(self.run_handler("index", "s")),
                         "[True, ['x', 'tags'], ['count', 'tags', 'x'], Point(x=1, tags=[]), True, False]")

    def test_importlib_reload_reexecutes_into_the_same_module(self):
        # Python's reload: the file's code runs again in the module's own
        # namespace (names it no longer defines survive), the same object
        # comes back, and importers see the change.
        dep = self.write("s/dep.py", "VALUE = 'one'\nOLD = 'old'\n")
        self.write("s/index.py", """
            import importlib, sys
            import dep
            def handler(req):
                how = req.get_options()["how"]
                if how == "imp":
                    import imp
                    m = imp.reload(dep)
                else:
                    m = importlib.reload(dep)
                import dep as again
                req.write("%s %s %s %s %s" % (m is dep, again is dep, dep.VALUE, dep.OLD, "dep" in sys.modules))
                return 0
        """)
        self.assertEqual(self.body(self.run_handler("index", "s", options=[["how", "importlib"]])),
                         "True True one old False")
        self.write("s/dep.py", "VALUE = 'two'\n")
        r = self.run_handler("index", "s", options=[["how", "importlib"]])
        self.assertEqual(self.body(r), "True True two old False")
        self.assertEqual([(m["file"], m["generation"], m["reason"]) for m in r.modules()],
                         [(dep, 3, "importlib.reload")])
        self.write("s/dep.py", "VALUE = 'three'\n")
        self.assertEqual(self.body(self.run_handler("index", "s", options=[["how", "imp"]])),
                         "True True three old False")
        self.write("s/dep.py", "VALUE = 'broken\n")
        r = self.run_handler("index", "s", options=[["how", "importlib"]])
        self.assertIn("SyntaxError", html.unescape(r.body.decode()))
        self.write("s/dep.py", "VALUE = 'four'\n")
        self.assertEqual(self.body(self.run_handler("index", "s", options=[["how", "importlib"]])),
                         "True True four old False")

    def test_import_module_relative_to_another_package(self):
        self.write("s/ipkg/__init__.py", "")
        self.write("s/ipkg/sub.py", "")
        self.write("s/index.py", """
            import importlib, sys
            import ipkg.sub
            def handler(req):
                m = importlib.import_module(".sub", "ipkg")
                req.write("%s %s %s" % (m is ipkg.sub, "ipkg" in sys.modules, "ipkg.sub" in sys.modules))
                return 0
        """)
        self.assertEqual(self.body(self.run_handler("index", "s")), "True False False")

    def test_threads_import_while_a_module_loads(self):
        # A module that runs a thread pool at import time, whose threads
        # import, must not deadlock (Python 3's per-module locks).
        self.write("s/helper.py", "V = 'h'\n")
        self.write("s/pool.py", """
            from concurrent.futures import ThreadPoolExecutor
            def load(i):
                import json
                import helper
                return json.dumps(i) + helper.V
            with ThreadPoolExecutor(2) as ex:
                R = list(ex.map(load, range(3)))
            def handler(req):
                req.write(" ".join(R))
                return 0
        """)
        self.assertEqual(self.body(self.run_handler("pool", "s")), "0h 1h 2h")

    def test_threads_in_an_import_cycle_get_a_partial_module(self):
        # Python's deadlock rule: of two threads each waiting for a module
        # the other is loading, one gets the partial module.
        self.write("s/coord.py", "import threading\nin_y = threading.Event()\n")
        self.write("s/x.py", """
            import threading, coord
            def load_y():
                import y
            threading.Thread(target=load_y).start()
            coord.in_y.wait(10)
            import y
            X = "x"
        """)
        self.write("s/y.py", """
            import coord
            coord.in_y.set()
            import x
            Y = "y"
        """)
        self.write("s/index.py", """
            import coord
            def handler(req):
                import x, y
                req.write("%s %s %s" % (x.X, y.Y, x.y is y))
                return 0
        """)
        self.assertEqual(self.body(self.run_handler("index", "s")), "x y True")

    def test_site_module_named_like_the_stdlib(self):
        # A sibling email.py is what its neighbours import (as for a script),
        # but the standard library and other directories keep the real one.
        self.write("s/email.py", "WHO = 'site'\n")
        self.write("s/index.py", """
            import email, sys
            def handler(req):
                import smtplib, http.client
                req.write("%s %s %s" % (email.WHO, smtplib.email.__file__ == sys.modules["email"].__file__,
                                        hasattr(sys.modules["email"], "WHO")))
                return 0
        """)
        self.write("t/index.py", """
            def handler(req):
                import email.utils
                req.write(email.utils.__name__)
                return 0
        """)
        self.assertEqual(self.body(self.run_handler("index", "s")), "site True False")
        self.assertEqual(self.body(self.run_handler("index", "t")), "email.utils")

    def test_module_that_replaces_itself_in_sys_modules(self):
        # `sys.modules[__name__] = obj`: the import gives obj, as in Python,
        # and the entry does not outlive the module's execution.
        self.write("s/const.py", """
            import sys
            class _Const:
                X = 1
                def __setattr__(self, name, value):
                    raise TypeError("constant")
            sys.modules[__name__] = _Const()
        """)
        self.write("s/index.py", """
            import sys
            import const
            from const import X
            def handler(req):
                import const as again
                req.write("%s %s %s %s" % (type(const).__name__, X, again is const, "const" in sys.modules))
                return 0
        """)
        self.assertEqual(self.body(self.run_handler("index", "s")), "_Const 1 True False")

    def test_python_import_of_a_site_module_is_the_same_module(self):
        # Code that is not a site module (exec with fresh globals, the
        # standard library) importing a site module by name gets the
        # importer's module, not a second copy executed again, and only for
        # the request.
        self.write("s/mypkg/__init__.py", """
            import builtins
            builtins.__dict__.setdefault("mypkg_runs", []).append(__name__)
        """)
        self.write("s/mypkg/res.txt", "resource")
        self.write("s/helper.py", "")
        self.write("s/index.py", """
            import builtins, importlib.resources, sys
            import helper, mypkg
            def handler(req):
                g = {}
                exec("import helper", g)
                text = importlib.resources.files("mypkg").joinpath("res.txt").read_text()
                req.write("%s %s %s" % (g["helper"] is helper, text, builtins.mypkg_runs))
                return 0
        """)
        self.write("s/after.py", """
            import sys
            def handler(req):
                req.write(str(sorted(n for n in ("helper", "mypkg", "index") if n in sys.modules)))
                return 0
        """)
        self.assertEqual(self.body(self.run_handler("index", "s")), "True resource ['mypkg']")
        self.assertEqual(self.body(self.run_handler("after", "s")), "[]")

    def test_lazy_import_follows_reloads_and_options(self):
        # A function-level import is answered from a cache: it must still
        # see a reload, PythonAutoReload and mod_python.importer.path.
        dep = self.write("s/dep.py", "V = 'one'\n")
        self.write("s/lib1/where.py", "W = 'lib1'\n")
        self.write("s/lib2/where.py", "W = 'lib2'\n")
        index = self.write("s/index.py", """
            def handler(req):
                import dep, where
                from dep import V
                req.write("%s %s %s" % (dep.V, V, where.W))
                return 0
        """)
        lib1 = [["mod_python.importer.path", "['~/lib1']"]]
        lib2 = [["mod_python.importer.path", "['~/lib2']"]]
        self.assertEqual(self.body(self.run_handler("index", "s", options=lib1)), "one one lib1")
        self.assertEqual(self.body(self.run_handler("index", "s", options=lib1)), "one one lib1")
        self.assertEqual(self.body(self.run_handler("index", "s", options=lib2)), "one one lib2")
        self.write("s/dep.py", "V = 'two'\n")
        self.worker.invalidate(changed=[dep], dependent=[index])
        off = [["PythonAutoReload", "0"]]
        self.assertEqual(self.body(self.run_handler("index", "s", options=lib2, directives=off)), "one one lib2")
        self.assertEqual(self.body(self.run_handler("index", "s", options=lib2)), "two two lib2")
        self.assertEqual(self.body(self.run_handler("index", "s", options=lib2, directives=off)), "two two lib2")


class ResolutionTest(unittest.TestCase):
    """The resolution rules, in-process."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mpgate-resolution-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dir(self, name, files=()):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        for f in files:
            p = os.path.join(d, f)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, "w").close()
        return d

    def search(self, n, *dirs):
        return importer._search(n, lambda: [(d, None) for d in dirs])

    def test_module_package_extension_namespace(self):
        ext = importlib.machinery.EXTENSION_SUFFIXES[0]
        a = self.dir("a", ["mod.py", "pkg/__init__.py", "pkg.py", "fast" + ext, "nsdir/x.py", "later/y"])
        b = self.dir("b", ["nsdir.py", "later.py"])
        self.assertEqual(self.search("mod", a), ("site", "module", os.path.join(a, "mod.py"), "mod", None))
        self.assertEqual(self.search("pkg", a)[1:3], ("package", os.path.join(a, "pkg", "__init__.py")),
                         "a package directory comes before a module file, as in FileFinder")
        self.assertEqual(self.search("fast", a), importer._NORMAL, "extension modules are imported normally")
        self.assertEqual(self.search("nsdir", a, b)[1:3], ("module", os.path.join(b, "nsdir.py")),
                         "a namespace directory counts only when nothing else is found (PEP 420)")
        self.assertEqual(self.search("nsdir", a)[1:4], ("namespace", (os.path.join(a, "nsdir"),), "nsdir"))
        self.assertEqual(self.search("missing", a, b), importer._NOT_FOUND)

    def test_installed_builtin_and_own_names_are_normal(self):
        a = self.dir("a", ["sys.py", "os.py", "mod_python/__init__.py", "json.py"])
        self.assertEqual(self.search("sys", a), importer._NORMAL)
        if importlib.machinery.FrozenImporter.find_spec("os") is not None:
            self.assertEqual(self.search("os", a), importer._NORMAL)
        self.assertEqual(self.search("mod_python", a), importer._NORMAL)
        self.assertEqual(self.search("json", a)[0], "site")
        saved = importer.INSTALLED_DIRS
        importer.INSTALLED_DIRS = saved | {importer._norm_dir(a)}
        try:
            self.assertEqual(self.search("json", a), importer._NORMAL)
        finally:
            importer.INSTALLED_DIRS = saved

    def test_sys_path_part_consults_sys_modules(self):
        a = self.dir("a", ["json.py"])
        entries = [(importer._SYS_PATH, None), (a, None)]
        self.assertEqual(importer._search("json", lambda: entries), importer._NORMAL)
        self.assertEqual(importer._search("json", lambda: entries[::-1])[0], "site")


if __name__ == "__main__":
    unittest.main()
