// Package dispatch runs a FastCGI request on a Python worker: it is the stage
// after fcgi (which decodes Apache's request) and config (which merges the
// Python directives for it), and before the embedded runtime in pyrt (which
// calls the mod_python handler).
//
// A Server keeps one Pool of worker processes per mod_python interpreter name
// (mod_python.md §1.8). A worker serves one request at a time, like a prefork
// child of mod_python: a handler that crashes its process or hangs takes only
// its own request with it, and the pool replaces the worker. The wire between
// daemon and worker is specified in proto.go.
//
// What the handler returns decides the response as in mod_python and Apache
// (mod_python.md §2.5): OK and DONE send what the handler wrote, an HTTP
// status sends Apache's error document for it, DECLINED serves the file as
// Apache's default handler would.
package dispatch
