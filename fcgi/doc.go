// Package fcgi is the application side of FastCGI 1.0: it turns the
// connections a stock Apache opens (mod_proxy_fcgi, mod_authnz_fcgi, and
// mod_fcgid through mpgate's relay) into Requests for a Handler, which in
// mpgate is the dispatcher (package dispatch) that runs the mod_python
// handlers, and writes the Handler's CGI-style output back as records.
//
// Files: record.go is the wire format (records, name-value pairs, limits; the
// relay uses it alone), conn.go one connection, server.go the Server and what
// handlers see.
//
// What it does, shaped by what Apache really sends (shared reference
// fastcgi-apache.md):
//
//   - One request at a time per connection; a second BEGIN_REQUEST while one
//     is active gets FCGI_CANT_MPX_CONN. Apache never multiplexes and always
//     uses request id 1. KEEP_CONN (mod_proxy_fcgi enablereuse=on) is honoured;
//     without it the connection is closed after END_REQUEST.
//   - The handler starts at the end of PARAMS for every role, so it runs
//     while the body is still arriving, and an AUTHORIZER, which gets no
//     STDIN record at all, runs at all.
//   - STDIN is streamed to the handler one record at a time with
//     back-pressure, never buffered whole; the body ends at the empty STDIN
//     record, with or without CONTENT_LENGTH. A body the handler leaves
//     unread is discarded after it returns, up to 100 MiB.
//   - The request's state is released before END_REQUEST is written, since
//     Apache sends the next BEGIN_REQUEST as soon as it reads END_REQUEST.
//   - Params are kept raw, in order, with duplicates; malformed or oversized
//     input is a *ProtocolError that names the cause and closes the
//     connection, never silently dropped.
//   - GET_VALUES is answered honestly (FCGI_MPXS_CONNS=0, only the names
//     asked for), unknown management records with UNKNOWN_TYPE.
//
// Why not net/http/fcgi (read in Go 1.26's src/net/http/fcgi): it supports
// only the RESPONDER role and answers any other with FCGI_UNKNOWN_ROLE
// (child.go, handleRecord), so mod_authnz_fcgi and FcgidAuthorizer cannot
// reach it; it starts the handler on the first STDIN record, which an
// authorizer never gets, so such a request would hang; it answers
// GET_VALUES with FCGI_MPXS_CONNS=1 whatever was asked; on ABORT_REQUEST it
// writes END_REQUEST at once and again when the handler returns; it drops
// malformed name-value pairs silently and keeps params in a map, losing
// their order and duplicates; and it hides FastCGI behind net/http, which
// adds Date and a sniffed Content-Type and rewrites the Status line, where
// mpgate must pass mod_python's CGI output through unchanged, and offers no
// way to write FCGI_STDERR.
package fcgi
