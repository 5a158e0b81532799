// This file writes a Plan (Apply) and undoes every Plan applied so far (Revert). Each file
// changed gets a backup, FILE.mpgate-orig, made once, before its first change, and never
// overwritten; a state file (StateName, beside the main configuration) lists the backups and
// removed links, so that Revert restores exactly what Apply changed.

package rewrite

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

const (
	// BackupSuffix is added to a file's name for its backup.
	BackupSuffix = ".mpgate-orig"
	// StateName is the state file's name, in the main configuration file's directory.
	StateName = "mpgate-migrate.state"
)

// State is what Apply did so far, as the state file records it.
type State struct {
	Path    string   // the state file
	Backups []string // files with a backup (FILE + BackupSuffix), in the order first changed
	Created []string // files created
	Links   []Link   // links removed
}

// StatePath returns the state file of the configuration config.
func StatePath(config string) string { return filepath.Join(filepath.Dir(config), StateName) }

// ReadState reads the state file path; a missing one is an empty State.
func ReadState(path string) (*State, error) {
	st := &State{Path: path}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, "\t")
		switch {
		case f[0] == "backup" && len(f) == 2:
			st.Backups = append(st.Backups, f[1])
		case f[0] == "created" && len(f) == 2:
			st.Created = append(st.Created, f[1])
		case f[0] == "link" && len(f) == 3:
			st.Links = append(st.Links, Link{Path: f[1], Target: f[2]})
		default:
			return nil, fmt.Errorf("%s:%d: not a line mpgate migrate wrote: %q", path, n, l)
		}
	}
	return st, sc.Err()
}

// write saves the state file, or removes it when it records nothing.
func (st *State) write() error {
	if st.empty() {
		err := os.Remove(st.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	var b strings.Builder
	b.WriteString("# Written by mpgate migrate: what --revert restores. FILE" + BackupSuffix + " is FILE before its first change.\n")
	for _, p := range st.Backups {
		fmt.Fprintf(&b, "backup\t%s\n", p)
	}
	for _, p := range st.Created {
		fmt.Fprintf(&b, "created\t%s\n", p)
	}
	for _, l := range st.Links {
		fmt.Fprintf(&b, "link\t%s\t%s\n", l.Path, l.Target)
	}
	return writeAtomic(st.Path, []byte(b.String()), 0o644)
}

func (st *State) empty() bool { return len(st.Backups)+len(st.Created)+len(st.Links) == 0 }

// Apply writes the plan: a backup of each file before its first change, the new texts, the links
// removed, and the state file; then it runs check (apachectl -t). If check fails, every file and
// link is put back as it was before Apply, and the error names check's.
func (p *Plan) Apply(statePath string, check func() error) error {
	st, err := ReadState(statePath)
	if err != nil {
		return err
	}
	before := *st
	before.Backups = slices.Clone(st.Backups)
	before.Links = slices.Clone(st.Links)
	before.Created = slices.Clone(st.Created)
	for _, f := range p.Files {
		if strings.ContainsAny(f.Path, "\t\n") {
			return fmt.Errorf("%q: a file name with a tab or newline cannot be recorded", f.Path)
		}
		if f.Created {
			if _, err := os.Lstat(f.Path); err == nil {
				return fmt.Errorf("%s exists now; run mpgate migrate again", f.Path)
			}
			continue
		}
		if slices.Contains(st.Backups, f.Path) {
			if _, err := os.Stat(f.Path + BackupSuffix); err != nil {
				return fmt.Errorf("%s: its backup is gone (%v); restore it or remove its line from %s", f.Path, err, statePath)
			}
			continue
		}
		if _, err := os.Lstat(f.Path + BackupSuffix); err == nil {
			return fmt.Errorf("%s%s exists but %s does not list it: it is not mpgate migrate's; move it away first", f.Path, BackupSuffix, statePath)
		}
		if pat := includedBy(p.Includes, f.Path+BackupSuffix); pat != "" {
			return fmt.Errorf("the backup %s%s would be read by Apache (Include %s); include only *.conf there, then run mpgate migrate again", f.Path, BackupSuffix, pat)
		}
	}
	var done []FileEdit // written, to undo
	var newBackups []string
	var removed []Link
	undo := func() error {
		var errs []error
		for _, f := range done {
			if f.Created {
				errs = append(errs, os.Remove(f.Path))
				continue
			}
			errs = append(errs, writeAtomic(f.Path, f.Old, 0))
		}
		for _, b := range newBackups {
			errs = append(errs, os.Remove(b+BackupSuffix))
		}
		for _, l := range removed {
			errs = append(errs, os.Symlink(l.Target, l.Path))
		}
		*st = before
		errs = append(errs, st.write())
		return errors.Join(errs...)
	}
	fail := func(err error) error {
		if uerr := undo(); uerr != nil {
			return fmt.Errorf("%w; putting the files back also failed: %v", err, uerr)
		}
		return err
	}
	for _, f := range p.Files {
		if f.Created {
			if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
				return fail(err)
			}
			if err := writeAtomic(f.Path, f.New, 0o644); err != nil {
				return fail(err)
			}
			done = append(done, f)
			st.Created = append(st.Created, f.Path)
			continue
		}
		cur, err := os.ReadFile(f.Path)
		if err != nil {
			return fail(err)
		}
		if string(cur) != string(f.Old) {
			return fail(fmt.Errorf("%s changed since it was read; run mpgate migrate again", f.Path))
		}
		if !slices.Contains(st.Backups, f.Path) {
			if err := copyFile(f.Path, f.Path+BackupSuffix); err != nil {
				return fail(err)
			}
			newBackups = append(newBackups, f.Path)
			st.Backups = append(st.Backups, f.Path)
		}
		if err := writeAtomic(f.Path, f.New, 0); err != nil {
			return fail(err)
		}
		done = append(done, f)
	}
	for _, l := range p.RemoveLinks {
		if err := os.Remove(l.Path); err != nil {
			return fail(err)
		}
		removed = append(removed, l)
		st.Links = append(st.Links, l)
	}
	if err := st.write(); err != nil {
		return fail(err)
	}
	if check != nil {
		if err := check(); err != nil {
			return fail(fmt.Errorf("the new configuration does not pass: %w; every file is back as it was", err))
		}
	}
	return nil
}

// Revert restores every file and link the state file statePath lists, removes the backups and the
// state file, then runs check.
func Revert(statePath string, check func() error) (*State, error) {
	st, err := ReadState(statePath)
	if err != nil {
		return nil, err
	}
	if st.empty() {
		return st, fmt.Errorf("%s: nothing to revert (no state file: mpgate migrate --apply has not changed anything)", statePath)
	}
	restored := &State{Path: st.Path, Backups: slices.Clone(st.Backups), Created: slices.Clone(st.Created), Links: slices.Clone(st.Links)}
	for len(st.Backups) > 0 {
		p := st.Backups[0]
		data, err := os.ReadFile(p + BackupSuffix)
		if err != nil {
			return restored, fmt.Errorf("%s: %w", p, err)
		}
		if err := writeAtomic(p, data, 0); err != nil {
			return restored, err
		}
		if err := os.Remove(p + BackupSuffix); err != nil {
			return restored, err
		}
		st.Backups = st.Backups[1:]
		if err := st.write(); err != nil {
			return restored, err
		}
	}
	for len(st.Created) > 0 {
		if err := os.Remove(st.Created[0]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return restored, err
		}
		st.Created = st.Created[1:]
		if err := st.write(); err != nil {
			return restored, err
		}
	}
	for len(st.Links) > 0 {
		l := st.Links[0]
		if err := os.Symlink(l.Target, l.Path); err != nil && !errors.Is(err, fs.ErrExist) {
			return restored, err
		}
		st.Links = st.Links[1:]
		if err := st.write(); err != nil {
			return restored, err
		}
	}
	if check != nil {
		if err := check(); err != nil {
			return restored, fmt.Errorf("the files are restored, but the configuration does not pass: %w", err)
		}
	}
	return restored, nil
}

// includedBy returns the Include pattern among patterns that names the file p, or "": a
// directory names every file below it, a wildcard pattern names files matching it component by
// component.
func includedBy(patterns []string, p string) string {
	for _, pat := range patterns {
		if !hasWildcard(pat) {
			if p == pat || strings.HasPrefix(p, pat+"/") {
				return pat
			}
			continue
		}
		pc := strings.Split(strings.TrimPrefix(pat, "/"), "/")
		fc := strings.Split(strings.TrimPrefix(p, "/"), "/")
		if len(pc) > len(fc) {
			continue
		}
		ok := true
		for i, c := range pc {
			if !fnmatch(c, fc[i]) && c != fc[i] {
				ok = false
				break
			}
		}
		if ok {
			return pat
		}
	}
	return ""
}

// writeAtomic replaces the file path (a real path, not a link) with data through a temporary file
// in its directory, keeping its mode and owner (mode is used for a new file).
func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	uid, gid := -1, -1
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(s.Uid), int(s.Gid)
		}
	} else if mode == 0 {
		mode = 0o644
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".mpgate-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(name, mode)
	}
	if err == nil && uid >= 0 && os.Geteuid() == 0 {
		err = os.Chown(name, uid, gid)
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}

// copyFile copies src to the new file dst with src's mode and owner.
func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && os.Geteuid() == 0 {
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			err = os.Chown(dst, int(s.Uid), int(s.Gid))
		}
	}
	return err
}
