// This file finds the access files (.htaccess) Apache reads for a configuration: the walk records
// DocumentRoot, AccessFileName and every <Directory> with its AllowOverride (confScan), then
// accessFiles looks for the files under each DocumentRoot and <Directory> and keeps those whose
// directory Apache would read them in (AllowOverride other than None, core.c's directory walk).

package rewrite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// confScan is what the walk learnt for finding access files.
type confScan struct {
	docRoots    []string
	dirs        []*dirSection
	accessNames []string // every AccessFileName name, in any virtual host; none means .htaccess
}

func newConfScan() *confScan { return &confScan{} }

// dirSection is one <Directory> or <DirectoryMatch> section.
type dirSection struct {
	path     string         // absolute and cleaned (non-regex; may hold wildcards)
	re       *regexp.Regexp // <DirectoryMatch> and <Directory ~>
	override string         // the AllowOverride arguments, "" if the section sets none
	list     bool           // it has an AllowOverrideList
	file     string
	line     int // of the AllowOverride line (of the section while none was seen)
}

// dirSectionOf records the section sec (a kindDir block) and returns it.
func (rw *rewriter) dirSectionOf(sec sectionLine, file string, ln int) *dirSection {
	ws := words(rw.expand(sec.args))
	d := &dirSection{file: file, line: ln}
	regex := strings.EqualFold(sec.name, "DirectoryMatch")
	if len(ws) > 1 && ws[0].val == "~" {
		regex, ws = true, ws[1:]
	}
	if len(ws) == 0 {
		return d
	}
	if regex {
		re, err := regexp.Compile(ws[0].val)
		if err != nil {
			return d // Apache rejects it; nothing to find
		}
		d.re = re
	} else {
		p := ws[0].val
		if !filepath.IsAbs(p) {
			p = filepath.Join(rw.serverRoot, p)
		}
		d.path = filepath.Clean(p)
	}
	rw.scan.dirs = append(rw.scan.dirs, d)
	return d
}

// note records the directives confScan needs from a line the walk reads as Apache would.
func (w *fileWalk) noteScan(name, args string) {
	if w.truth() == truthFalse {
		return
	}
	s := w.rw.scan
	switch {
	case strings.EqualFold(name, "DocumentRoot"):
		if ws := words(w.rw.expand(args)); len(ws) > 0 {
			p := ws[0].val
			if !filepath.IsAbs(p) {
				p = filepath.Join(w.rw.serverRoot, p)
			}
			s.docRoots = append(s.docRoots, filepath.Clean(p))
		}
	case strings.EqualFold(name, "AccessFileName"):
		for _, a := range words(w.rw.expand(args)) {
			if !slices.Contains(s.accessNames, a.val) {
				s.accessNames = append(s.accessNames, a.val)
			}
		}
	case strings.EqualFold(name, "AllowOverride"), strings.EqualFold(name, "AllowOverrideList"):
		for i := len(w.stack) - 1; i >= 0; i-- {
			b := w.stack[i]
			if b.kind == kindCond {
				continue
			}
			if b.dir != nil {
				if strings.EqualFold(name, "AllowOverride") {
					b.dir.override = w.rw.expand(args)
				} else if !strings.EqualFold(strings.TrimSpace(args), "None") {
					b.dir.list = true
				}
			}
			break
		}
	}
}

// accessFile is an access file Apache reads.
type accessFile struct {
	path     string // absolute
	dir      string // its directory
	override string // the AllowOverride in effect there ("All", "FileInfo AuthConfig", ...)
}

// maxScanEntries bounds the directory entries accessFiles looks at, so that a DocumentRoot of
// millions of files gets an error rather than a silent hour-long walk.
const maxScanEntries = 2_000_000

// accessFiles returns the access files Apache reads, sorted by path: those named by
// AccessFileName under a DocumentRoot or a <Directory> (not "/" itself), in a directory whose
// AllowOverride (or AllowOverrideList) lets Apache read them. Symbolic links are not followed.
func (s *confScan) accessFiles() ([]accessFile, error) {
	names := s.accessNames
	if len(names) == 0 {
		names = []string{".htaccess"}
	}
	var roots []string
	for _, r := range s.docRoots {
		roots = append(roots, r)
	}
	for _, d := range s.dirs {
		if d.re == nil && !hasWildcard(d.path) && d.path != "/" {
			roots = append(roots, d.path)
		}
	}
	slices.Sort(roots)
	roots = slices.Compact(roots)
	seen := make(map[string]bool)
	var out []accessFile
	entries := 0
	for _, root := range roots {
		fi, err := os.Stat(root)
		if err != nil || !fi.IsDir() {
			continue
		}
		err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrPermission) {
					return nil
				}
				return err
			}
			if entries++; entries > maxScanEntries {
				return fmt.Errorf("more than %d files under %s; looking for access files stopped", maxScanEntries, root)
			}
			if e.IsDir() || !slices.Contains(names, e.Name()) || !e.Type().IsRegular() || seen[p] {
				return nil
			}
			seen[p] = true
			dir := filepath.Dir(p)
			if ov, read := s.overrideAt(dir); read {
				out = append(out, accessFile{path: p, dir: dir, override: ov})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("looking for access files: %w", err)
		}
	}
	slices.SortFunc(out, func(a, b accessFile) int { return strings.Compare(a.path, b.path) })
	return out, nil
}

// overrideAt returns the AllowOverride in effect for the directory dir and whether Apache reads
// access files there: the <Directory> sections matching dir or a directory above it, shortest
// first (in file order among equals), then the regular expression ones in file order; the last
// AllowOverride wins; the default is None (Apache 2.4). An AllowOverrideList makes Apache read
// the file even under None.
func (s *confScan) overrideAt(dir string) (string, bool) {
	ov, list := "None", false
	var plain, regex []*dirSection
	for _, d := range s.dirs {
		if d.re != nil {
			regex = append(regex, d)
		} else {
			plain = append(plain, d)
		}
	}
	slices.SortStableFunc(plain, func(a, b *dirSection) int { return countDirs(a.path) - countDirs(b.path) })
	apply := func(d *dirSection) {
		if d.override != "" {
			ov = d.override
		}
		list = list || d.list
	}
	for _, d := range plain {
		if dirMatches(d.path, dir) {
			apply(d)
		}
	}
	for _, d := range regex {
		if d.re.MatchString(dir) || d.re.MatchString(dir+"/") {
			apply(d)
		}
	}
	return ov, list || !strings.EqualFold(strings.TrimSpace(ov), "None")
}

// countDirs counts the components of an absolute path, as ap_count_dirs does for sorting.
func countDirs(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// dirMatches reports whether the <Directory> path pattern applies to dir: dir is it or below it.
// Wildcards match within one component.
func dirMatches(pattern, dir string) bool {
	if pattern == "/" {
		return true
	}
	pc := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	dc := strings.Split(strings.TrimPrefix(dir, "/"), "/")
	if len(dc) < len(pc) {
		return false
	}
	for i, c := range pc {
		if ok, err := filepath.Match(c, dc[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

// overrideClasses are the AllowOverride classes the directives rewrite adds need
// (their req_override in the modules' command tables).
var overrideClasses = map[string]string{
	"sethandler":           "FileInfo",
	"proxyfcgibackendtype": "FileInfo",
	"setenv":               "FileInfo",
	"fcgidwrapper":         "FileInfo",
	"options":              "Options",
	"cgipassauth":          "AuthConfig",
}

// allows reports whether the AllowOverride value ov allows the directive name in an access file.
func allows(ov, name string) bool {
	class, ok := overrideClasses[strings.ToLower(name)]
	if !ok {
		return true
	}
	for _, w := range strings.Fields(ov) {
		w, _, _ = strings.Cut(w, "=")
		if strings.EqualFold(w, "All") || strings.EqualFold(w, class) {
			return true
		}
	}
	return false
}

// accessConfName is the name of Result.AccessConf in OutDir. A copy of a site file is at OutDir
// followed by an absolute path, which never is a single name.
const accessConfName = "mpgate-access.conf"

// accessConf rewrites the access files Apache reads into the text of AccessConf: each one's
// lines, rewritten as a <Directory> section's, inside <Directory "ITS DIRECTORY">. Apache's
// directory walk (core.c ap_directory_walk) merges, at each level, the <Directory> sections of
// that level, sorted by their number of components, then the access file there; a <Directory>
// written after every other one (the file is Included after the site) sorts last among those of
// its level, so it merges where the access file did: after the same-level sections, before
// deeper ones and before <DirectoryMatch>, <Files> and <Location>. Two differences remain:
// <Directory> sections inside a <VirtualHost> come after the main server's, so one for the same
// directory there merges after the access file's lines instead of before; and a directive that
// AllowOverride forbids (Apache's 500) is applied.
func (rw *rewriter) accessConf() error {
	files, err := rw.scan.accessFiles()
	if err != nil {
		return fmt.Errorf("rewrite: %w", err)
	}
	var b strings.Builder
	b.WriteString("# Written by mpgate (rewrite.Site): the access files Apache would read, rewritten as <Directory>\n")
	b.WriteString("# sections that merge where the files would (Include it after the site). AccessFileName names\n")
	b.WriteString("# no file, so that Apache does not read the originals, which mpgate reads.\n")
	b.WriteString("AccessFileName .mpgate-no-access-file\n")
	for _, af := range files {
		data, err := os.ReadFile(af.path)
		if err != nil {
			return fmt.Errorf("rewrite: %w", err)
		}
		blk := &block{kind: kindDir, name: "Directory", open: `<Directory "` + af.dir + `">`, file: af.path, truth: truthTrue, eol: "\n"}
		if strings.ContainsAny(af.dir, "\"\\\n") {
			return fmt.Errorf("rewrite: %s: a directory name with a quote, backslash or newline cannot be written in <Directory>", af.path)
		}
		text, err := rw.rewriteText(af.path, string(data), []*block{blk}, true)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "\n# %s (AllowOverride %s)\n%s\n", af.path, af.override, blk.open)
		b.WriteString(text)
		if text != "" && !strings.HasSuffix(text, "\n") {
			b.WriteString("\n")
		}
		b.WriteString("</Directory>\n")
		rw.accessFiles = append(rw.accessFiles, af.path)
	}
	rw.access = b.String()
	return nil
}
