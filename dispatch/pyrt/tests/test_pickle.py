"""Tests of the pickling of site classes and functions (mpgate.sitepickle):
data pickled in one worker process is unpickled in another and across a
reload, with two same-named modules (a/index.py, b/index.py) never
confused."""

import base64
import io
import os
import pickletools
import shutil
import tempfile
import textwrap
import unittest

from tests import harness as h

INDEX = textwrap.dedent('''
    import base64
    import pickle
    from mod_python import apache

    VERSION = 1

    if "state" not in globals():
        state = {}

    def __mp_clone__(module):
        module.state = state

    class Foo:
        def __init__(self, x):
            self.x = x

        def where(self):
            return "%s v%d" % (__file__, VERSION)

    def double(v):
        return v * 2

    def dump(req):
        req.write(base64.b64encode(pickle.dumps({"foo": Foo(3), "fn": double, "cls": Foo})))
        return apache.OK

    def load(req):
        obj = pickle.loads(base64.b64decode(req.read()))
        if isinstance(obj, dict):
            foo, fn, cls = obj["foo"], obj["fn"], obj["cls"]
            req.write("%s x=%d current=%s fn=%s %s cls=%s" % (
                foo.where(), foo.x, type(foo) is Foo, fn(2), fn.__globals__["__file__"], cls is Foo))
        else:
            req.write("%s x=%d current=%s" % (obj.where(), obj.x, type(obj) is Foo))
        return apache.OK

    def keep(req):
        state["old"] = Foo(7)
        return apache.OK

    def dump_kept(req):
        req.write(base64.b64encode(pickle.dumps(state["old"])))
        return apache.OK

    def plain(req):
        import _pickle, datetime, collections
        values = [datetime.date(2020, 1, 2), collections.OrderedDict(a=1), {"k": [1, 2.5, "s"]}]
        same = all(pickle.dumps(v, p) == _pickle.dumps(v, p) for v in values for p in range(6))
        req.write("%s %s %s" % (same, pickle.Pickler is not _pickle.Pickler, pickle.loads(pickle.dumps(values)) == values))
        return apache.OK
''')

# A pickle of index.Foo(x=1) as mod_python (or any program that had a
# module "index" in sys.modules) writes it: protocol 2, GLOBAL 'index Foo'.
OLD_DATA = (b"\x80\x02"               # PROTO 2
            b"cindex\nFoo\n"          # GLOBAL 'index Foo'
            b")"                      # EMPTY_TUPLE
            b"\x81"                   # NEWOBJ
            b"}"                      # EMPTY_DICT
            b"X\x01\x00\x00\x00x"     # BINUNICODE 'x'
            b"K\x01"                  # BININT1 1
            b"s"                      # SETITEM
            b"b"                      # BUILD
            b".")                     # STOP


class PickleTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mpgate-pickle-test-")
        for name in ("a", "b"):
            self.write(name + "/index.py", INDEX)
        self.workers = [h.WorkerProcess(), h.WorkerProcess()]
        self.next_id = 1

    def tearDown(self):
        codes = []
        for w in self.workers:
            codes.append(w.shutdown()[0])
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(codes, [0, 0])

    def path(self, rel):
        return os.path.join(self.tmp, rel)

    def write(self, rel, text):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        return p

    def run_handler(self, worker, handler, directory, body=b""):
        d = self.path(directory) + "/"
        conf = h.config(handlers={"PythonHandler": [
            {"handler": "index::" + handler, "directory": d, "is_location": False, "silent": False}]},
            directives=[["PythonDebug", "1"]])
        rid = self.next_id
        self.next_id += 1
        r = self.workers[worker].request(rid, conf, conf_id=rid, meta_=h.meta("/x", d + "x"), body=body)
        self.assertEqual((r.end.result, r.status), (0, 200), r.body.decode(errors="replace"))
        return r.body

    def test_round_trip_across_workers_without_collision(self):
        data_a = self.run_handler(0, "dump", "a")
        data_b = self.run_handler(0, "dump", "b")
        a, b = self.path("a/index.py"), self.path("b/index.py")
        self.assertEqual(self.run_handler(1, "load", "b", data_a).decode(),
                         "%s v1 x=3 current=False fn=4 %s cls=False" % (a, a))
        self.assertEqual(self.run_handler(1, "load", "b", data_b).decode(),
                         "%s v1 x=3 current=True fn=4 %s cls=True" % (b, b))
        self.assertEqual(self.run_handler(1, "load", "a", data_a).decode(),
                         "%s v1 x=3 current=True fn=4 %s cls=True" % (a, a))

    def test_round_trip_across_a_reload(self):
        data = self.run_handler(0, "dump", "a")
        index = self.write("a/index.py", INDEX.replace("VERSION = 1", "VERSION = 2"))
        self.workers[0].invalidate(changed=[index])
        self.assertEqual(self.run_handler(0, "load", "a", data).decode(),
                         "%s v2 x=3 current=True fn=4 %s cls=True" % (index, index))

    def test_object_of_an_older_generation(self):
        self.run_handler(0, "keep", "a")
        index = self.write("a/index.py", INDEX.replace("VERSION = 1", "VERSION = 2"))
        self.workers[0].invalidate(changed=[index])
        data = self.run_handler(0, "dump_kept", "a")
        self.assertEqual(self.run_handler(1, "load", "a", data).decode(), "%s v2 x=7 current=True" % index)

    def test_bare_names_in_older_data(self):
        pickletools.dis(OLD_DATA, out=io.StringIO())  # well-formed
        body = base64.b64encode(OLD_DATA)
        for directory in ("a", "b"):
            with self.subTest(handler_directory=directory):
                self.assertEqual(self.run_handler(0, "load", directory, body).decode(),
                                 "%s v1 x=1 current=True" % self.path(directory + "/index.py"))

    def test_file_gone_falls_back_to_the_name(self):
        self.write("c/index.py", INDEX)
        data = self.run_handler(0, "dump", "c")
        shutil.rmtree(self.path("c"))
        a = self.path("a/index.py")
        self.assertEqual(self.run_handler(1, "load", "a", data).decode(),
                         "%s v1 x=3 current=True fn=4 %s cls=True" % (a, a))

    def test_other_objects_pickle_as_before(self):
        self.assertEqual(self.run_handler(0, "plain", "a"), b"True True True")


if __name__ == "__main__":
    unittest.main()
