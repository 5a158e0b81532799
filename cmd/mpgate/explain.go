// This file is `mpgate explain URL`: which virtual host, sections and
// .htaccess files a request gets, the file Apache maps it to, and the
// Python configuration and handlers the daemon would run it with.

package main

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mpgate/mpgate/config"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "show how a request would be served: virtual host, sections, .htaccess files, file, handlers per phase, interpreter",
		ArgsUsage: "URL",
		Flags: append(explainSiteFlags(),
			&cli.StringFlag{Name: "host", Usage: "Host header (default: the URL's host)"},
			&cli.StringFlag{Name: "method", Value: "GET", Usage: "request method, for <If> conditions"},
			&cli.StringSliceFlag{Name: "header", Aliases: []string{"H"}, Usage: "request header `NAME:VALUE` for <If> conditions (repeatable)"},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1", Usage: "local `ADDRESS` the request arrives on, for IP-based virtual hosts"},
			&cli.IntFlag{Name: "port", Usage: "local `PORT` the request arrives on (default: the URL's port, else 80, or 443 for https)"},
		),
		Action: func(c *cli.Context) error {
			if err := flagsAfterURL(c); err != nil || c.NArg() < 1 {
				return cli.Exit("usage: mpgate explain URL [--host H] [--method M] [--header NAME:VALUE] [--config FILE]", 2)
			}
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(c, log)
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			defer cfg.Close()
			req, err := explainRequest(c)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			return explain(c.App.Writer, cfg, req)
		},
	}
}

// explainSiteFlags are siteFlags with --config defaulting to Debian's
// apache2.conf: explain reads the whole configuration Apache reads, as the
// first thing a sysadmin runs on the server itself.
func explainSiteFlags() []cli.Flag {
	fs := siteFlags()
	for i, f := range fs {
		if sf, ok := f.(*cli.StringFlag); ok && sf.Name == "config" {
			c := *sf
			c.Required = false
			c.Value = "/etc/apache2/apache2.conf"
			fs[i] = &c
		}
	}
	return fs
}

// flagsAfterURL sets the flags written after the URL ("mpgate explain URL
// --host H"), which the flag parser leaves as arguments.
func flagsAfterURL(c *cli.Context) error {
	args := c.Args().Slice()
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return fmt.Errorf("unexpected argument %q", a)
		}
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok {
			if i+1 >= len(args) {
				return fmt.Errorf("flag %s needs a value", a)
			}
			i++
			value = args[i]
		}
		if err := c.Set(name, value); err != nil {
			return err
		}
	}
	return nil
}

// explainReq is the request to explain, from the command line.
type explainReq struct {
	method, host, addr string
	port               int
	path, rawQuery     string
	https              bool
	params             map[string]string // CGI variables for <If>
}

// Param makes explainReq a config.Params.
func (r *explainReq) Param(name string) string { return r.params[name] }

func explainRequest(c *cli.Context) (*explainReq, error) {
	raw := c.Args().First()
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("URL %q: %v", raw, err)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	if !strings.HasPrefix(u.Path, "/") {
		return nil, fmt.Errorf("URL %q: want an absolute URL or a path starting with '/'", raw)
	}
	r := &explainReq{method: strings.ToUpper(c.String("method")), addr: c.String("addr"),
		path: u.Path, rawQuery: u.RawQuery, https: u.Scheme == "https", params: map[string]string{}}
	r.host = u.Hostname()
	if h := c.String("host"); h != "" {
		r.host = h
	}
	r.port = c.Int("port")
	if r.port == 0 && u.Port() != "" {
		r.port, _ = strconv.Atoi(u.Port())
	}
	if r.port == 0 {
		r.port = 80
		if r.https {
			r.port = 443
		}
	}
	for _, h := range c.StringSlice("header") {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--header %q: want NAME:VALUE", h)
		}
		r.params["HTTP_"+strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(k), "-", "_"))] = strings.TrimSpace(v)
	}
	if r.host != "" {
		r.params["HTTP_HOST"] = r.host
	}
	r.params["REQUEST_METHOD"] = r.method
	r.params["QUERY_STRING"] = r.rawQuery
	r.params["SERVER_ADDR"] = r.addr
	r.params["SERVER_PORT"] = strconv.Itoa(r.port)
	if r.https {
		r.params["HTTPS"] = "on"
	}
	return r, nil
}

// explain maps the URL to a file as Apache would (Alias, AliasMatch,
// DocumentRoot, the file system for PATH_INFO, mod_dir's DirectoryIndex)
// and prints the configuration the daemon would look up for it.
func explain(w io.Writer, cfg *config.Config, r *explainReq) error {
	q := config.Query{Host: r.host, LocalAddr: r.addr, LocalPort: r.port, URI: r.path,
		Params: r, Method: r.method, QueryString: r.rawQuery}
	// bufio.Writer keeps the first write error: the printing stays linear.
	ew := bufio.NewWriter(w)
	fmt.Fprintf(ew, "request: %s %s", r.method, r.path)
	if r.rawQuery != "" {
		fmt.Fprintf(ew, "?%s", r.rawQuery)
	}
	fmt.Fprintf(ew, "  host %s  local %s:%d\n", orQuote(r.host), r.addr, r.port)

	// The virtual host decides DocumentRoot and the aliases.
	v := cfg.Lookup(q).VHost
	file, how := cfg.MapURL(v, r.path)
	fmt.Fprintf(ew, "file: %s  (%s)\n", file, how)
	file, pathInfo := config.SplitPathInfo(file, os.Stat)
	q.Filename = file
	if pathInfo != "" {
		fmt.Fprintf(ew, "path info: %s  (Apache's directory walk ends the file name at %s, the first component that is not a directory)\n", pathInfo, file)
		if fi, err := os.Stat(file); err == nil && fi.IsDir() {
			q.Filename = strings.TrimSuffix(file, "/") + "/"
		}
	}
	m := cfg.Lookup(q)
	if fi, err := os.Stat(file); err == nil && fi.IsDir() && pathInfo == "" {
		switch {
		case !strings.HasSuffix(r.path, "/"):
			fmt.Fprintf(ew, "directory: mod_dir redirects to %s/ (DirectorySlash)\n", r.path)
		case m.Err != nil:
		case m.DirectoryIndex == "disabled":
			fmt.Fprintf(ew, "directory index: disabled\n")
		default:
			q.Filename = strings.TrimSuffix(file, "/") + "/"
			m = cfg.Lookup(q)
			found := ""
			for _, name := range strings.Fields(m.DirectoryIndex) {
				if name == "disabled" {
					break
				}
				p := q.Filename + name
				if strings.HasPrefix(name, "/") {
					continue // a URL elsewhere: Apache makes a subrequest for it
				}
				if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
					found = name
					break
				}
			}
			if found == "" {
				fmt.Fprintf(ew, "directory index: none of %q exists: the directory itself is served (mod_autoindex or 403)\n", m.DirectoryIndex)
				break
			}
			fmt.Fprintf(ew, "directory index: %s  (first existing of DirectoryIndex %s; Apache redirects internally to %s%s)\n", found, m.DirectoryIndex, r.path, found)
			q.URI = r.path + found
			q.Filename += found
			m = cfg.Lookup(q)
		}
	} else if err != nil && pathInfo == "" {
		fmt.Fprintf(ew, "file does not exist: Apache answers 404 unless a handler set by SetHandler takes the request\n")
	}
	fmt.Fprintf(ew, "req.filename: %s\n", q.Filename)
	if err := m.Explain(ew); err != nil {
		return err
	}
	for _, wn := range m.Warnings() {
		fmt.Fprintf(ew, "warning: %s\n", wn)
	}
	return ew.Flush()
}

func orQuote(s string) string {
	if s == "" {
		return `""`
	}
	return s
}
