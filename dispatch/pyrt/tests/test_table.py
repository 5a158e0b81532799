"""Tests of mod_python's table (mod_python.md §3.5): mod_python's own
test_apache_table (grisha/mod_python: test/htdocs/tests.py, _test_table),
then the semantics it leaves out, checked against Debian's mod_python 3.5."""

import unittest

import _apache
from mod_python import apache


class TestFailed(Exception):
    pass


class UpstreamTableTest(unittest.TestCase):
    """mod_python's _test_table and test_apache_table, as unittest."""

    def test_dict_basics(self):
        d = apache.table()
        if list(d.keys()) != []: raise TestFailed('{}.keys()')
        if ('a' in d) != 0: raise TestFailed("'a' in {}")
        if ('a' not in d) != 1: raise TestFailed("'a' not in {}")
        if len(d) != 0: raise TestFailed('len({})')
        d = apache.table({'a': '1', 'b': '2'})
        if len(d) != 2: raise TestFailed('len(dict)')
        k = list(d.keys())
        k.sort()
        if k != ['a', 'b']: raise TestFailed('dict keys()')
        if 'a' in d and 'b' in d and 'c' not in d: pass
        else: raise TestFailed('dict keys() # in/not in version')
        if d['a'] != '1' or d['b'] != '2': raise TestFailed('dict item')
        d['c'] = '3'
        d['a'] = '4'
        if d['c'] != '3' or d['a'] != '4': raise TestFailed('dict item assignment')
        del d['b']
        if d != {'a': '4', 'c': '3'}: raise TestFailed('dict item deletion')

    def test_clear(self):
        d = apache.table()
        d['1'] = '1'
        d['2'] = '2'
        d['3'] = '3'
        d.clear()
        if d != apache.table(): raise TestFailed('dict clear')

    def test_update(self):
        d = apache.table()
        d.update({'1': '100'})
        d.update({'2': '20'})
        d.update({'1': '1', '2': '2', '3': '3'})
        if d != apache.table({'1': '1', '2': '2', '3': '3'}): raise TestFailed('dict update')
        d.clear()
        with self.assertRaises(AttributeError):
            d.update(None)

        class SimpleUserDict:
            def __init__(self):
                self.d = {1: 1, 2: 2, 3: 3}

            def keys(self):
                return list(self.d.keys())

            def __getitem__(self, i):
                return self.d[i]
        d.update(SimpleUserDict())
        if d != apache.table({1: 1, 2: 2, 3: 3}): raise TestFailed('dict.update(instance)')
        d.clear()

        class FailingUserDict1:
            def keys(self):
                raise ValueError
        with self.assertRaises(ValueError):
            d.update(FailingUserDict1())

        class FailingUserDict2:
            def keys(self):
                class BogonIter:
                    def __iter__(self):
                        raise ValueError
                return BogonIter()
        with self.assertRaises(ValueError):
            d.update(FailingUserDict2())

        class FailingUserDict3:
            def keys(self):
                class BogonIter:
                    def __init__(self):
                        self.i = 1

                    def __iter__(self):
                        return self

                    def __next__(self):
                        if self.i:
                            self.i = 0
                            return 'a'
                        raise ValueError
                return BogonIter()

            def __getitem__(self, key):
                return key
        with self.assertRaises(ValueError):
            d.update(FailingUserDict3())

        class FailingUserDict4:
            def keys(self):
                class BogonIter:
                    def __init__(self):
                        self.i = ord('a')

                    def __iter__(self):
                        return self

                    def __next__(self):
                        if self.i <= ord('z'):
                            rtn = chr(self.i)
                            self.i += 1
                            return rtn
                        raise StopIteration
                return BogonIter()

            def __getitem__(self, key):
                raise ValueError
        with self.assertRaises(ValueError):
            d.update(FailingUserDict4())

    def test_copy(self):
        if apache.table().copy() != apache.table(): raise TestFailed('empty dict copy')
        t = apache.table({'1': '1', '2': '2'})
        if t.copy() != {'1': '1', '2': '2'}: raise TestFailed('dict copy')

    def test_get(self):
        d = apache.table()
        if d.get('c') is not None: raise TestFailed('missing {} get, no 2nd arg')
        if d.get('c', '3') != '3': raise TestFailed('missing {} get, w/ 2nd arg')
        d = apache.table({'a': '1', 'b': '2'})
        if d.get('c') is not None: raise TestFailed('missing dict get, no 2nd arg')
        if d.get('c', '3') != '3': raise TestFailed('missing dict get, w/ 2nd arg')
        if d.get('a') != '1': raise TestFailed('present dict get, no 2nd arg')
        if d.get('a', '3') != '1': raise TestFailed('present dict get, w/ 2nd arg')

    def test_setdefault(self):
        d = apache.table()
        d.setdefault('key0')
        if d.setdefault('key0') != "":
            raise TestFailed('missing {} setdefault, no 2nd arg')
        if d.setdefault('key0') != "":
            raise TestFailed('present {} setdefault, no 2nd arg')

    def test_popitem(self):
        for copymode in -1, +1:
            # -1: b has same structure as a; +1: b is a.copy()
            for log2size in range(12):
                size = 2 ** log2size
                a = apache.table()
                b = apache.table()
                for i in range(size):
                    a[repr(i)] = str(i)
                    if copymode < 0:
                        b[repr(i)] = str(i)
                if copymode > 0:
                    b = a.copy()
                for i in range(size):
                    ka, va = ta = a.popitem()
                    if va != ka: raise TestFailed("a.popitem: %s" % str(ta))
                    kb, vb = tb = b.popitem()
                    if vb != kb: raise TestFailed("b.popitem: %s" % str(tb))
                    if copymode < 0 and ta != tb:
                        raise TestFailed("a.popitem != b.popitem: %s, %s" % (ta, tb))
                if a: raise TestFailed('a not empty after popitems: %s' % str(a))
                if b: raise TestFailed('b not empty after popitems: %s' % str(b))

    def test_iteration(self):
        d = apache.table({'a': '1', 'b': '2', 'c': '3'})
        self.assertEqual([k for k in d], ['a', 'b', 'c'])

    def test_inheritance(self):
        class mytable(apache.table):
            def __str__(self):
                return "str() from mytable"
        mt = mytable({'a': 'b'})
        # As mod_python's table_new: a plain, empty mp_table, not initialised.
        self.assertIs(type(mt), apache.table)
        self.assertEqual((str(mt), len(mt)), ("{}", 0))
        with self.assertRaises(AttributeError):
            mt.extra = 1

    def test_add(self):
        a = apache.table({'a': 'b'})
        a.add('a', 'c')
        if a['a'] != ['b', 'c']:
            self.fail('table.add() broken: a["a"] is %r' % (a["a"],))


class TableSemanticsTest(unittest.TestCase):
    """What mod_python's C table does beyond dict conformance."""

    def test_one_type_two_names(self):
        self.assertIs(apache.table, _apache.table)
        self.assertIs(apache.make_table, _apache.table)
        self.assertEqual(repr(apache.table), "<class 'mp_table'>")

    def test_case_insensitive_keys_keep_their_case(self):
        t = apache.table()
        t['Content-Type'] = 'text/plain'
        self.assertEqual(t['content-type'], 'text/plain')
        self.assertEqual(t.get('CONTENT-TYPE'), 'text/plain')
        self.assertIn('CoNtEnT-tYpE', t)
        self.assertEqual(t.keys(), ['Content-Type'])
        t['CONTENT-TYPE'] = 'text/html'  # set keeps the first key's spelling
        self.assertEqual(t.items(), [('Content-Type', 'text/html')])

    def test_duplicates(self):
        t = apache.table()
        t.add('Set-Cookie', 'a=1')
        t.add('X', 'x')
        t.add('set-cookie', 'b=2')
        self.assertEqual(t['SET-COOKIE'], ['a=1', 'b=2'])
        self.assertEqual(t.get('Set-Cookie'), 'a=1')
        self.assertEqual(len(t), 3)
        self.assertEqual(t.keys(), ['Set-Cookie', 'X', 'set-cookie'])
        self.assertEqual(t.values(), ['a=1', 'x', 'b=2'])
        self.assertEqual(list(t.iteritems()), [('Set-Cookie', 'a=1'), ('X', 'x'), ('set-cookie', 'b=2')])
        t['Set-Cookie'] = 'c=3'  # replaces every occurrence, at the first one's place
        self.assertEqual(t.items(), [('Set-Cookie', 'c=3'), ('X', 'x')])
        t.add('set-cookie', 'd=4')
        del t['SET-cookie']  # removes every occurrence
        self.assertEqual(t.items(), [('X', 'x')])
        del t['absent']  # apr_table_unset does not complain

    def test_construction_from_pairs_uses_set(self):
        t = apache.table([('a', '1'), ('A', '2'), ('b', '3')])
        self.assertEqual(t.items(), [('a', '2'), ('b', '3')])
        self.assertEqual(repr(t), "{'b': '3', 'a': '2'}")  # repr walks backwards
        with self.assertRaises(ValueError) as cm:
            apache.table([('a', '1', 'x')])
        self.assertEqual(str(cm.exception), "table update sequence element #0 has length 3; 2 is required")
        with self.assertRaises(TypeError):
            apache.table([1])

    def test_popitem_takes_the_first(self):
        t = apache.table([('a', '1'), ('b', '2')])
        self.assertEqual(t.popitem(), ('a', '1'))
        with self.assertRaises(KeyError):
            apache.table().popitem()

    def test_popitem_drops_the_last(self):
        # As mod_python's table_popitem (observed with Debian's mod_python):
        # it returns the first pair and shortens the table at its end.
        t = apache.table([('k%d' % i, str(i)) for i in range(3)])
        self.assertEqual([t.popitem() for _ in range(3)], [('k0', '0')] * 3)
        self.assertEqual(len(t), 0)
        t = apache.table([('a', '1'), ('b', '2')])
        t.popitem()
        self.assertEqual(list(t.items()), [('a', '1')])

    def test_getitem_missing(self):
        with self.assertRaises(KeyError):
            apache.table()['x']

    def test_getitem_natural_comparison(self):
        # t[k] uses apr_strnatcasecmp, which skips white space; get and in
        # compare exactly (checked with Debian's mod_python).
        t = apache.table()
        t[' a b '] = 'x'
        self.assertEqual(t['ab'], 'x')
        self.assertIsNone(t.get('ab'))
        self.assertNotIn('ab', t)
        t2 = apache.table({'x01': '1'})
        with self.assertRaises(KeyError):
            t2['x1']

    def test_has_key_returns_int(self):
        t = apache.table({'a': '1'})
        self.assertIs(t.has_key('A'), 1)
        self.assertIs(t.has_key('b'), 0)

    def test_values_must_be_latin1_strings(self):
        t = apache.table()
        for bad in (1, None, 'snow \u2603', ['x']):
            with self.subTest(value=bad):
                with self.assertRaises(TypeError) as cm:
                    t['k'] = bad
                self.assertEqual(str(cm.exception), 'not an ISO-8859-1 string')
        with self.assertRaises(TypeError):
            t.add('k', 2)
        t['k'] = b'bytes'
        self.assertEqual(t['k'], 'bytes')

    def test_strings_go_in_as_latin1_and_come_out_as_utf8(self):
        t = apache.table()
        t['k'] = '\xc3\xa9'  # the Latin-1 reading of UTF-8 "é"
        self.assertEqual(t['k'], '\xe9')
        t['bad'] = '\xe9'  # a lone Latin-1 byte is not UTF-8
        with self.assertRaises(UnicodeDecodeError):
            t['bad']
        self.assertEqual(t._pairs()[-1], ('bad', b'\xe9'))

    def test_nul_ends_a_string(self):
        t = apache.table()
        t['k'] = 'ab\x00cd'
        self.assertEqual(t['k'], 'ab')

    def test_update_and_construction_str_everything(self):
        t = apache.table({1: 2})
        self.assertEqual(t.items(), [('1', '2')])
        t.update({'x': 3.5})
        self.assertEqual(t['x'], '3.5')

    def test_setdefault(self):
        t = apache.table({'a': '1'})
        self.assertEqual(t.setdefault('A', 'z'), '1')
        self.assertEqual(t.setdefault('n', 'v'), 'v')
        self.assertEqual(t.items(), [('a', '1'), ('n', 'v')])

    def test_equality_converts_to_dicts(self):
        t = apache.table([('a', '1')])
        self.assertEqual(t, {'a': '1'})
        self.assertNotEqual(t, {'A': '1'})  # dict keys are case-sensitive
        self.assertNotEqual(t, apache.table([('a', '2')]))
        t.add('a', '2')
        self.assertEqual(t, {'a': ['1', '2']})
        self.assertFalse(t == 5)

    def test_unhashable(self):
        with self.assertRaises(TypeError) as cm:
            hash(apache.table())
        self.assertEqual(str(cm.exception), "mp_table objects are unhashable")

    def test_copy_is_a_plain_table(self):
        class sub(apache.table):
            pass
        c = sub({'a': '1'}).copy()
        self.assertIs(type(c), apache.table)
        self.assertEqual(c, {})  # sub(...) itself is an empty plain table

    def test_changing_size_during_iteration(self):
        t = apache.table({'a': '1'})
        with self.assertRaises(RuntimeError) as cm:
            for k in t:
                t['b'] = '2'
        self.assertEqual(str(cm.exception), "table changed size during iteration")

    def test_iterators(self):
        t = apache.table([('a', '1'), ('b', '2')])
        self.assertEqual(list(t.iterkeys()), ['a', 'b'])
        self.assertEqual(list(t.itervalues()), ['1', '2'])
        it = t.iteritems()
        self.assertIs(iter(it), it)
        self.assertEqual(it.next(), ('a', '1'))

    def test_repr(self):
        self.assertEqual(repr(apache.table()), "{}")
        self.assertEqual(repr(apache.table([('Host', 'h'), ('Accept', '*/*')])), "{'Accept': '*/*', 'Host': 'h'}")


class ParseQsTest(unittest.TestCase):

    def test_parse_qsl(self):
        got = _apache.parse_qsl("a=1&b=%41%2F&c&=d&e=&f=%zz&g=%00x;h=+1", 1)
        self.assertEqual(got, [('a', '1'), ('b', 'A/'), ('c', ''), ('', 'd'), ('e', ''), ('f', '%zz'),
                               ('g', ''), ('h', ' 1')])
        self.assertEqual(_apache.parse_qsl("a=1&b&c="), [('a', '1')])

    def test_parse_qs(self):
        self.assertEqual(_apache.parse_qs("a=1&a=2&b"), {'a': ['1', '2']})
        self.assertEqual(_apache.parse_qs("a=1;b=", 1), {'a': ['1'], 'b': ['']})

    def test_bytes_in_bytes_out(self):
        self.assertEqual(_apache.parse_qsl(b"x=%ff&y=%C3%A9"), [(b'x', b'\xff'), (b'y', b'\xc3\xa9')])
        self.assertEqual(_apache.parse_qsl("y=%C3%A9"), [('y', '\xe9')])

    def test_invalid_utf8_raises_system_error(self):
        # util.FieldStorage catches SystemError and falls back to urllib.
        with self.assertRaises(SystemError):
            _apache.parse_qsl("x=%ff")


class ApacheModuleTest(unittest.TestCase):

    def test_server_return(self):
        self.assertIs(apache.SERVER_RETURN, _apache.SERVER_RETURN)
        self.assertEqual(repr(apache.SERVER_RETURN), "<class '_apache.SERVER_RETURN'>")

    def test_stat(self):
        f = apache.stat(__file__, apache.APR_FINFO_NORM)
        self.assertEqual(f.filetype, apache.APR_REG)
        self.assertEqual(f.fname, __file__)
        self.assertIsNone(f.name)
        self.assertEqual(f[apache.FINFO_SIZE], f.size)
        with self.assertRaises(IndexError):
            f[apache.FINFO_FILETYPE]  # as finfoobject.c does
        missing = apache.stat("/nonexistent/file", apache.APR_FINFO_NORM)
        self.assertEqual(missing.filetype, apache.APR_NOFILE)
        self.assertIsNone(missing.size)

    def test_stubs_say_what_they_lack(self):
        with self.assertRaises(NotImplementedError) as cm:
            apache.server_root()
        self.assertIn("ServerRoot", str(cm.exception))
        with self.assertRaises(NotImplementedError):
            apache.config_tree()
        # The global mutexes are the daemon's: there is none outside a request.
        from mpgate.request import CallError
        with self.assertRaises(CallError) as cm:
            _apache._global_lock(None, "sid")
        self.assertIn("no request is running", str(cm.exception))

    def test_mpm_query_is_prefork_like(self):
        self.assertEqual(apache.mpm_query(apache.AP_MPMQ_IS_THREADED), apache.AP_MPMQ_NOT_SUPPORTED)
        self.assertEqual(apache.mpm_query(apache.AP_MPMQ_IS_FORKED), apache.AP_MPMQ_DYNAMIC)

    def test_phase_tables(self):
        self.assertEqual(apache._phase_handler_names["PythonHandler"], "handler")
        self.assertEqual(apache._status_values["handler"], [apache.OK])
        self.assertEqual(apache._status_values["fixuphandler"], [apache.DECLINED, apache.OK])


if __name__ == "__main__":
    unittest.main()
