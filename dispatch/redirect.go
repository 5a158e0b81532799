// This file answers a worker's req.internal_redirect(): the daemon maps
// the new URI as Apache would (DocumentRoot, Alias, the longest existing
// path, the rest as path_info), looks its configuration up, and hands the
// worker what it needs to run the new request itself, in the same process,
// with the first request as req.prev (as mod_python runs the redirect inside
// the same Apache child and interpreter).
//
//	request.redirect {uri} -> {handler, interpreter, config_id, config_json,
//	                           "p:NAME" → FastCGI param..., "m:KEY" → meta...}

package dispatch

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mpgate/mpgate/config"
	"github.com/mpgate/mpgate/fcgi"
)

const callRedirect = "request.redirect"

// redirect answers a request.redirect CALL of x's worker.
func (x *exchange) redirect(b []byte, args []KV) []byte {
	res, err := x.redirectResults(Get(args, "uri"))
	if err != nil {
		return AppendReply(b, &ReplyFrame{Status: 1, Results: []KV{{"error", err.Error()}}})
	}
	return AppendReply(b, &ReplyFrame{Results: res})
}

func (x *exchange) redirectResults(uri string) ([]KV, error) {
	p, query, _ := strings.Cut(uri, "?")
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("internal_redirect %q: not a local URI (want /path)", uri)
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	r := x.r
	cfg := x.s.cfg.Load()
	file, how := cfg.MapURL(x.m.VHost, clean)
	if strings.HasPrefix(how, "DocumentRoot") {
		if root := r.Param("DOCUMENT_ROOT"); root != "" {
			file = strings.TrimSuffix(root, "/") + clean
		}
	}
	filename, pathInfo := splitPathInfo(file)
	scriptName := strings.TrimSuffix(clean, pathInfo)

	// The new request's params: the first one's, with the URI, its mapping
	// and the REDIRECT_ variables Apache's internal redirect sets.
	set := map[string]string{
		"REQUEST_URI": uri, "SCRIPT_NAME": scriptName, "PATH_INFO": pathInfo,
		"SCRIPT_FILENAME": filename, "QUERY_STRING": query,
		"REDIRECT_URL":    firstNonEmpty(strings.SplitN(r.Param("REQUEST_URI"), "?", 2)[0], "/"),
		"REDIRECT_STATUS": "200",
	}
	if qs := r.Param("QUERY_STRING"); qs != "" {
		set["REDIRECT_QUERY_STRING"] = qs
	}
	params := make([]fcgi.Param, 0, len(r.Params)+3)
	for _, kv := range r.Params {
		if _, ok := set[kv.Name]; !ok {
			params = append(params, kv)
		}
	}
	for _, name := range []string{"REQUEST_URI", "SCRIPT_NAME", "PATH_INFO", "SCRIPT_FILENAME", "QUERY_STRING", "REDIRECT_URL", "REDIRECT_STATUS", "REDIRECT_QUERY_STRING"} {
		if v, ok := set[name]; ok && (v != "" || name == "QUERY_STRING") {
			params = append(params, fcgi.Param{Name: name, Value: v})
		}
	}
	nr := *r
	nr.Params = params
	q := queryOf(&nr)
	y := &exchange{s: x.s, r: &nr, id: x.id, start: x.start}
	y.m = cfg.Lookup(q)
	if y.m.Err != nil {
		// A broken .htaccess above the target refuses it, as it would a
		// request of the client's.
		return nil, y.m.Err
	}
	wc, err := x.s.wireFor(cfg, y.m, cfg.BaseServer(q))
	if err != nil {
		return nil, err
	}
	res := []KV{
		{"handler", y.m.Handler}, {"interpreter", y.m.Interpreter},
		{"config_id", strconv.FormatUint(uint64(wc.id), 10)}, {"config_json", string(wc.json)},
	}
	for _, kv := range params {
		res = append(res, KV{"p:" + kv.Name, kv.Value})
	}
	for _, kv := range y.buildMeta(q) {
		res = append(res, KV{"m:" + kv.Key, kv.Value})
	}
	return res, nil
}

// splitPathInfo is config.SplitPathInfo of the cleaned file name, a trailing
// slash kept on the path info (a directory's name is returned without it).
func splitPathInfo(file string) (filename, pathInfo string) {
	filename, pathInfo = config.SplitPathInfo(filepath.Clean(file), os.Stat)
	if pathInfo != "" && strings.HasSuffix(file, "/") {
		pathInfo += "/"
	}
	return filename, pathInfo
}
