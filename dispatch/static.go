// This file serves a file as Apache's default handler does, for requests
// whose content handler declined (mod_python.md §2.5: DECLINED in the content
// phase lets Apache serve req.filename) or that no Python handler covers.

package dispatch

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// serveFile writes filename as the response: 404 when it is missing, 403 when
// it cannot be read, 404 for path info after a file (the default handler's
// AcceptPathInfo Default), Content-Type from the MIME types, Last-Modified,
// ETag (Apache's default FileETag MTime Size), conditional GET, HEAD.
//
// extra are the headers a content handler set before it declined: all of
// them go with the file, the first errHeaders of them (err_headers_out) with
// an error.
func serveFile(x *exchange, filename string, extra []KV, errHeaders int) {
	errExtra := extra[:min(errHeaders, len(extra))]
	if x.r.Param("PATH_INFO") != "" && !x.m.IsLocation {
		x.errorResponse(404, errExtra)
		return
	}
	f, err := os.Open(filename)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			x.errorResponse(404, errExtra)
		default:
			x.log().Error("cannot open file", "file", filename, "err", err)
			x.errorResponse(403, errExtra)
		}
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		// Directories belong to mod_dir/mod_autoindex, which mpgate does
		// not emulate.
		x.errorResponse(403, errExtra)
		return
	}
	mtime := st.ModTime()
	etag := `"` + strconv.FormatInt(st.Size(), 16) + "-" + strconv.FormatInt(mtime.UnixMicro(), 16) + `"`
	lastMod := mtime.UTC().Format(http.TimeFormat)
	ctype := mimeType(filename)
	headers := make([]KV, 0, len(extra)+5)
	for _, h := range extra {
		switch strings.ToLower(h.Key) {
		case "last-modified", "etag", "accept-ranges", "content-length":
			// the default handler sets these for the file (apr_table_setn)
		default:
			headers = append(headers, h)
		}
	}
	headers = append(headers, KV{"Last-Modified", lastMod}, KV{"ETag", etag}, KV{"Accept-Ranges", "bytes"})
	method := x.r.Param("REQUEST_METHOD")
	if notModified(x, etag, mtime) {
		x.writeHead(304, "", headers)
		return
	}
	headers = append(headers, KV{"Content-Length", strconv.FormatInt(st.Size(), 10)})
	if ctype != "" {
		headers = append(headers, KV{"Content-Type", ctype})
	}
	if err := x.writeHead(200, "", headers); err != nil || method == "HEAD" {
		return
	}
	if _, err := io.Copy(x.w, f); err != nil {
		x.log().Error("sending file", "file", filename, "err", err)
	}
}

// appendFile is serveFile after the response has started (a content
// handler wrote, then declined): Apache's default handler adds the file's
// bytes, or the text of its error, to the body already sent.
func appendFile(x *exchange, filename string) {
	status := 404
	if filename != "" && (x.r.Param("PATH_INFO") == "" || x.m.IsLocation) {
		if f, err := os.Open(filename); err == nil {
			defer f.Close()
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
				if x.r.Param("REQUEST_METHOD") != "HEAD" {
					io.Copy(x.w, f)
				}
				return
			}
			status = 403
		} else if !errors.Is(err, fs.ErrNotExist) {
			status = 403
		}
	}
	x.w.Write([]byte(errorBody(status, x.errorRequest(nil))))
}

// notModified applies If-None-Match and If-Modified-Since for GET and HEAD
// (httpd's ap_meets_conditions, the part a static file needs).
func notModified(x *exchange, etag string, mtime time.Time) bool {
	m := x.r.Param("REQUEST_METHOD")
	if m != "GET" && m != "HEAD" {
		return false
	}
	if inm := x.r.Param("HTTP_IF_NONE_MATCH"); inm != "" {
		return inm == "*" || strings.Contains(inm, etag)
	}
	if ims := x.r.Param("HTTP_IF_MODIFIED_SINCE"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !mtime.Truncate(time.Second).After(t)
	}
	return false
}

// mimeType is the type mod_mime gives a file before the handler runs: the
// type of the last extension that has one in TypesConfig (Debian's Apache
// reads /etc/mime.types). Unlike mime.TypeByExtension it adds no charset,
// as Apache adds none (AddDefaultCharset Off).
func mimeType(filename string) string {
	types := loadMimeTypes()
	exts := strings.Split(filepath.Base(filename), ".")
	for i := len(exts) - 1; i >= 1; i-- {
		if t := types[strings.ToLower(exts[i])]; t != "" {
			return t
		}
	}
	return ""
}

// mimeTypesFile is Apache's TypesConfig on Debian.
const mimeTypesFile = "/etc/mime.types"

var loadMimeTypes = sync.OnceValue(func() map[string]string {
	types := make(map[string]string)
	b, err := os.ReadFile(mimeTypesFile)
	if err != nil {
		return types
	}
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		for _, ext := range f[min(1, len(f)):] {
			types[strings.ToLower(ext)] = f[0]
		}
	}
	return types
})
