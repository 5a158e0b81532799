// Package apachetest runs private Apache httpd 2.4 instances for mpgate's end-to-end tests: the stage
// before it is a test's own site configuration and handler files, the stage after it is whatever the
// site hands requests to (mod_python 3.5 as the reference, or mpgate over mod_proxy_fcgi or mod_fcgid).
//
// Start writes a ServerRoot of its own under the temporary directory (conf/httpd.conf, htdocs/,
// logs/, run/), listens on a free port of 127.0.0.1 (trying another one if Apache cannot bind it),
// runs /usr/sbin/apache2 -DFOREGROUND as a child in its own process group, and stops it when the test
// ends. When a test fails, the tails of the server's logs are printed with the failure. Nothing is
// shared between servers, so tests may call t.Parallel and several test binaries may run at once;
// the only shared file is the lock that serialises apt-get runs (installing missing packages).
//
// ModPython starts the reference: real mod_python behind such a server. Compare sends one request
// to two servers and reports every difference a client could see.
//
// Running as root, Apache's children run as www-data (Apache refuses to serve as root), so
// everything a server must read, execute or write is given to that user: see RunAs, Chown, TempDir.
package apachetest
