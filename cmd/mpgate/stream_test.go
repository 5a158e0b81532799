package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpgate/mpgate/internal/apachetest"
)

// streamSite is a site whose handler writes, flushes, then waits on a FIFO
// the test opens only after it has received the first part: a response
// Apache or mpgate buffered would never arrive, and the request would hang
// until the test's deadline. It also echoes the size of large uploads.
func streamSite(t *testing.T) (conf, fifo string) {
	t.Helper()
	dir := apachetest.TempDir(t)
	fifo = filepath.Join(dir, "gate.fifo")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(fifo, 0o666)
	os.MkdirAll(filepath.Join(dir, "htdocs", "s"), 0o755)
	handler := fmt.Sprintf(`
from mod_python import apache

def handler(req):
    req.content_type = "text/plain"
    if req.args == "upload":
        n = 0
        while True:
            chunk = req.read(100000)
            if not chunk:
                break
            n += len(chunk)
        req.write("received %%d bytes\n" %% n)
        return apache.OK
    req.write("part1\n")
    with open(%q) as gate:
        gate.read()
    req.write("part2\n")
    return apache.OK
`, fifo)
	os.WriteFile(filepath.Join(dir, "htdocs", "s", "stream.py"), []byte(handler), 0o644)
	conf = filepath.Join(dir, "site.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`DocumentRoot %[1]s/htdocs
<Directory %[1]s/htdocs>
    Require all granted
</Directory>
<Directory %[1]s/htdocs/s>
    SetHandler mod_python
    PythonHandler stream
</Directory>
`, dir)), 0o644)
	apachetest.Chown(t, dir)
	return conf, fifo
}

// TestStreamingAndUploads: through mod_fcgid and mod_proxy_fcgi, a flushed
// part of a response reaches the client while the handler still runs, and
// an upload far above mod_fcgid's 128 KiB default arrives whole.
func TestStreamingAndUploads(t *testing.T) {
	conf, fifo := streamSite(t)
	for _, via := range []string{"fcgid", "proxy"} {
		t.Run(via, func(t *testing.T) {
			srv := preview(t, conf, via)
			client := &http.Client{Timeout: 60 * time.Second}
			resp, err := client.Get(srv.URL + "/s/x")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			first, err := br.ReadString('\n')
			if err != nil || first != "part1\n" {
				t.Fatalf("first line %q, %v; want part1 before the handler finishes", first, err)
			}
			gate, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			gate.Close() // the handler's read returns: it writes part2 and ends
			rest, err := io.ReadAll(br)
			if err != nil || string(rest) != "part2\n" {
				t.Fatalf("rest %q, %v; want part2", rest, err)
			}

			body := bytes.Repeat([]byte("u"), 3<<20)
			resp2, err := client.Post(srv.URL+"/s/x?upload", "application/octet-stream", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp2.Body)
			resp2.Body.Close()
			if want := fmt.Sprintf("received %d bytes\n", len(body)); resp2.StatusCode != 200 || !strings.EqualFold(string(got), want) {
				t.Fatalf("upload of %d bytes: %d %q, want 200 %q", len(body), resp2.StatusCode, got, want)
			}
		})
	}
}
