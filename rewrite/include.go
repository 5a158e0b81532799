// This file finds the files an Include names, in the order Apache reads them
// (server/config.c: ap_process_resource_config_ex, process_resource_config_fnmatch and
// process_resource_config_nofnmatch).

package rewrite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// configFiles returns the files the absolute path pattern names. A directory stands for every
// file below it, recursively, in byte order; a wildcard (* ? [) in any component matches names
// in byte order, a leading dot only explicitly (apr_fnmatch with APR_FNM_PERIOD), and in a
// component before the last only directories. With strict (Include, not IncludeOptional), a
// missing file or a wildcard matching nothing is an error, as in Apache.
func configFiles(pattern string, strict bool) ([]string, error) {
	if !hasWildcard(pattern) {
		return configPath(pattern, strict)
	}
	comps := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	return fnmatchWalk("/", comps, strict)
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?[") }

// configPath returns the file p, or the files below the directory p.
func configPath(p string, strict bool) ([]string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		if strict {
			return nil, fmt.Errorf("could not open configuration file: %w", err)
		}
		return nil, nil
	}
	if !fi.IsDir() {
		return []string{p}, nil
	}
	ents, err := os.ReadDir(p) // sorted by name, as Apache's fname_alphasort (strcmp)
	if err != nil {
		return nil, fmt.Errorf("could not open config directory: %w", err)
	}
	var files []string
	for _, e := range ents {
		fs, err := configPath(filepath.Join(p, e.Name()), true)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	return files, nil
}

// fnmatchWalk returns the files matching the path components comps below dir.
func fnmatchWalk(dir string, comps []string, strict bool) ([]string, error) {
	c, rest := comps[0], comps[1:]
	if !hasWildcard(c) {
		p := filepath.Join(dir, c)
		if len(rest) == 0 {
			return configPath(p, strict)
		}
		return fnmatchWalk(p, rest, strict)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		if strict {
			return nil, fmt.Errorf("could not open config directory: %w", err)
		}
		return nil, nil
	}
	var files []string
	matched := false
	for _, e := range ents {
		if !fnmatch(c, e.Name()) || (len(rest) > 0 && !e.IsDir()) {
			continue
		}
		matched = true
		p := filepath.Join(dir, e.Name())
		var fs []string
		if len(rest) == 0 {
			fs, err = configPath(p, strict)
		} else {
			fs, err = fnmatchWalk(p, rest, strict)
		}
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	if !matched && strict {
		return nil, fmt.Errorf("no matches for the wildcard %q in %s", c, dir)
	}
	return files, nil
}

// fnmatch matches one name against one pattern component like apr_fnmatch(APR_FNM_PERIOD).
func fnmatch(pattern, name string) bool {
	if strings.HasPrefix(name, ".") && !strings.HasPrefix(pattern, ".") {
		return false
	}
	ok, err := filepath.Match(pattern, name)
	return err == nil && ok
}
