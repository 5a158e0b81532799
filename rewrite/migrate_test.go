package rewrite

import (
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A migrate case (testdata/migrate/*.txt) holds one run of Migrate on a tree of files:
//
//	# what the case checks (comment lines)
//	sections: /a /b       options, one per line: sections (--section values), via (default fcgid),
//	disable: true         disable (DisableModPython)
//	authz-port: 8291      AuthzPort
//	-- etc/apache2/apache2.conf --     the files, relative to $ROOT (the test's directory);
//	...                                "-- NAME -> TARGET --" makes NAME a symbolic link
//	==== rewritten ====
//	sections:                          each section's state and label
//	...
//	links: ...                         RemoveLinks
//	-- diff --                         Plan.Diff(), or "error: ..." for a refusal
//
// $ROOT stands for the test's directory. The main file is etc/apache2/apache2.conf, the snippets
// are in $ROOT/snip (present, so the plan does not create one), the run directory is /run/mpgate
// and the program /usr/bin/mpgate. Unless the case is a refusal, the test also applies the plan
// (Apply), checks that `patch -d / -p1` gives the same files, that Migrate then changes nothing,
// and that Revert restores every original byte.
func TestMigrateGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/migrate/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/migrate/*.txt: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			c := readGolden(t, path)
			root := shortTempDir(t)
			stageMigrate(t, root, c.inputs)
			opts := migrateOptions(root, c.opts)
			plan, err := Migrate(opts)
			got := migrateReport(plan, err)
			got = strings.ReplaceAll(got, root, "$ROOT")
			if *update {
				if err := os.WriteFile(path, []byte(c.before+got), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if got != c.expected {
				t.Errorf("%s: Migrate gave\n%s\nwant\n%s", path, got, c.expected)
			}
			if err != nil {
				return
			}
			checkRoundTrip(t, root, opts, plan)
		})
	}
}

// stageMigrate writes the case's files under root.
func stageMigrate(t *testing.T, root string, inputs []namedFile) {
	t.Helper()
	for _, f := range inputs {
		name, target, link := strings.Cut(f.name, " -> ")
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if link {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(f.content, "$ROOT", root)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"mpgate-proxy.conf", "mpgate-fcgid.conf", "mpgate-cgi.conf"} {
		p := filepath.Join(root, "snip", s)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("# snippet\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func migrateOptions(root string, o map[string]string) MigrateOptions {
	opts := MigrateOptions{
		Config:           filepath.Join(root, "etc/apache2/apache2.conf"),
		ServerRoot:       filepath.Join(root, "etc/apache2"),
		Via:              ViaFcgid,
		Mpgate:           "/usr/bin/mpgate",
		RunDir:           "/run/mpgate",
		Sections:         strings.Fields(strings.ReplaceAll(o["sections"], "$ROOT", root)),
		DisableModPython: o["disable"] == "true",
		SnippetDir:       filepath.Join(root, "snip"),
		LookupEnv:        func(string) (string, bool) { return "", false },
	}
	if v := o["via"]; v != "" {
		opts.Via = Via(v)
	}
	if v := o["authz-port"]; v != "" {
		opts.AuthzPort, _ = strconv.Atoi(v)
	}
	return opts
}

// migrateReport formats a plan (or Migrate's error) as the golden files hold it.
func migrateReport(plan *Plan, err error) string {
	var b strings.Builder
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	b.WriteString("sections:\n")
	for _, s := range plan.Sections {
		b.WriteString("  " + s.State.String() + ": " + s.Label + " (--section " + s.Path + ")\n")
	}
	for _, l := range plan.RemoveLinks {
		b.WriteString("links: " + l.Path + " -> " + l.Target + "\n")
	}
	if plan.Full {
		b.WriteString("full: nothing left to mod_python\n")
	}
	if len(plan.ModPython) > 0 {
		b.WriteString("mod_python still loaded at " + strings.Join(plan.ModPython, ", ") + "\n")
	}
	b.WriteString("-- diff --\n")
	b.WriteString(plan.Diff())
	return b.String()
}

// checkRoundTrip applies plan with Apply and with patch, runs Migrate again, and reverts.
func checkRoundTrip(t *testing.T, root string, opts MigrateOptions, plan *Plan) {
	t.Helper()
	before := treeSnapshot(t, root)
	// patch, on a copy of the tree, must give what Apply writes.
	if diff := plan.Diff(); diff != "" {
		copyRoot := shortTempDir(t)
		if out, err := exec.Command("cp", "-a", root+"/.", copyRoot).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
		// The copy's file names in the headers; its contents still name root.
		var moved strings.Builder
		for _, l := range strings.SplitAfter(diff, "\n") {
			if strings.HasPrefix(l, "--- a/") || strings.HasPrefix(l, "+++ b/") {
				l = strings.Replace(l, strings.TrimPrefix(root, "/"), strings.TrimPrefix(copyRoot, "/"), 1)
			}
			moved.WriteString(l)
		}
		cmd := exec.Command("patch", "-d", "/", "-p1", "-s", "--no-backup-if-mismatch")
		cmd.Stdin = strings.NewReader(moved.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("patch -d / -p1: %v\n%s\n%s", err, out, moved.String())
		}
		defer func() {
			for _, f := range plan.Files {
				got, err := os.ReadFile(strings.Replace(f.Path, root, copyRoot, 1))
				if err != nil || string(got) != string(f.New) {
					t.Errorf("patch gave %s as\n%s\nwant:\n%s", f.Path, got, f.New)
				}
			}
		}()
	}
	state := StatePath(opts.Config)
	if err := plan.Apply(state, nil); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, f := range plan.Files {
		if got, _ := os.ReadFile(f.Path); string(got) != string(f.New) {
			t.Errorf("Apply wrote %s as\n%s\nwant\n%s", f.Path, got, f.New)
		}
	}
	again, err := Migrate(opts)
	if err != nil {
		t.Fatalf("Migrate after Apply: %v", err)
	}
	if len(again.Files) > 0 || len(again.RemoveLinks) > 0 {
		t.Errorf("Migrate after Apply is not idempotent:\n%s", again.Diff())
	}
	if _, err := Revert(state, nil); err != nil {
		t.Fatalf("Revert: %v", err)
	}
	after := treeSnapshot(t, root)
	for p, v := range before {
		if after[p] != v {
			t.Errorf("after Revert, %s is %q, want %q", p, after[p], v)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("after Revert, %s is left", p)
		}
	}
}

// treeSnapshot returns every file and link under root: content, or "-> TARGET".
func treeSnapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			out[p] = "-> " + target
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMigrateApplyCheckFails: when the check fails, every file is back as it was, with no backup
// or state file left, and the error says why.
func TestMigrateApplyCheckFails(t *testing.T) {
	c := readGolden(t, "testdata/migrate/debian_one_section.txt")
	root := shortTempDir(t)
	stageMigrate(t, root, c.inputs)
	opts := migrateOptions(root, c.opts)
	plan, err := Migrate(opts)
	if err != nil {
		t.Fatal(err)
	}
	before := treeSnapshot(t, root)
	err = plan.Apply(StatePath(opts.Config), func() error { return errors.New("AH00526: Syntax error on line 7") })
	if err == nil || !strings.Contains(err.Error(), "AH00526: Syntax error on line 7") || !strings.Contains(err.Error(), "back as it was") {
		t.Fatalf("Apply with a failing check: %v", err)
	}
	after := treeSnapshot(t, root)
	if len(after) != len(before) {
		t.Errorf("files after a failed Apply: %d, want %d", len(after), len(before))
	}
	for p, v := range before {
		if after[p] != v {
			t.Errorf("after a failed Apply, %s is %q, want %q", p, after[p], v)
		}
	}
}

// TestMigrateStepByStep migrates a site one section at a time, then disables mod_python; each
// step changes only its section, the state file keeps the first backups, and one Revert
// restores the original.
func TestMigrateStepByStep(t *testing.T) {
	c := readGolden(t, "testdata/migrate/debian_one_section.txt")
	root := shortTempDir(t)
	stageMigrate(t, root, c.inputs)
	original := treeSnapshot(t, root)
	state := ""
	site := filepath.Join(root, "etc/apache2/sites-available/site.conf")
	for i, step := range []struct {
		sections []string
		disable  bool
		chosen   int
		left     int
	}{
		{[]string{"$ROOT/www/a"}, false, 1, 2},
		{[]string{"$ROOT/www/ht"}, false, 1, 1},
		{nil, true, 1, 0},
	} {
		o := map[string]string{"sections": strings.Join(step.sections, " ")}
		if step.disable {
			o["disable"] = "true"
		}
		opts := migrateOptions(root, o)
		state = StatePath(opts.Config)
		plan, err := Migrate(opts)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var chosen, left int
		for _, s := range plan.Sections {
			switch s.State {
			case Chosen:
				chosen++
			case Left:
				left++
			}
		}
		if chosen != step.chosen || left != step.left {
			t.Errorf("step %d: %d chosen and %d left, want %d and %d", i, chosen, left, step.chosen, step.left)
		}
		if err := plan.Apply(state, nil); err != nil {
			t.Fatalf("step %d: Apply: %v", i, err)
		}
		if b, _ := os.ReadFile(site + BackupSuffix); string(b) != original[site] {
			t.Errorf("step %d: the backup of site.conf is not the original:\n%s", i, b)
		}
	}
	st, err := ReadState(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Links) != 1 || !strings.HasSuffix(st.Links[0].Path, "mods-enabled/python.load") {
		t.Errorf("state links %v, want mods-enabled/python.load", st.Links)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/apache2/mods-enabled/python.load")); err == nil {
		t.Errorf("mods-enabled/python.load is still there after --disable-mod-python")
	}
	if _, err := Revert(state, nil); err != nil {
		t.Fatal(err)
	}
	after := treeSnapshot(t, root)
	if len(after) != len(original) {
		t.Errorf("%d files after Revert, want %d", len(after), len(original))
	}
	for p, v := range original {
		if after[p] != v {
			t.Errorf("after Revert, %s is %q, want %q", p, after[p], v)
		}
	}
	if _, err := os.Stat(state); err == nil {
		t.Errorf("the state file is left after Revert")
	}
}

// TestMigrateBackupNotOurs: an existing FILE.mpgate-orig that the state file does not list is
// never overwritten.
func TestMigrateBackupNotOurs(t *testing.T) {
	c := readGolden(t, "testdata/migrate/debian_one_section.txt")
	root := shortTempDir(t)
	stageMigrate(t, root, c.inputs)
	opts := migrateOptions(root, c.opts)
	plan, err := Migrate(opts)
	if err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(root, "etc/apache2/sites-available/site.conf"+BackupSuffix)
	if err := os.WriteFile(mine, []byte("the user's own\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = plan.Apply(StatePath(opts.Config), nil)
	if err == nil || !strings.Contains(err.Error(), "not mpgate migrate's") {
		t.Fatalf("Apply over a foreign backup: %v", err)
	}
	if b, _ := os.ReadFile(mine); string(b) != "the user's own\n" {
		t.Errorf("the foreign backup was changed to %q", b)
	}
}

// TestUnifiedDiffPatch checks UnifiedDiff against GNU patch on random edits.
func TestUnifiedDiffPatch(t *testing.T) {
	if _, err := exec.LookPath("patch"); err != nil {
		t.Fatalf("GNU patch is needed: %v", err)
	}
	r := rand.New(rand.NewSource(1))
	dir := shortTempDir(t)
	f := filepath.Join(dir, "f")
	for it := 0; it < 200; it++ {
		var a []string
		for range r.Intn(30) {
			a = append(a, string(rune('a'+r.Intn(5))))
		}
		b := slices.Clone(a)
		for range r.Intn(6) {
			p := r.Intn(len(b) + 1)
			switch r.Intn(3) {
			case 0:
				b = slices.Insert(b, p, "X")
			case 1:
				if p < len(b) {
					b = slices.Delete(b, p, p+1)
				}
			case 2:
				if p < len(b) {
					b[p] = "Y"
				}
			}
		}
		old, nw := strings.Join(a, "\n"), strings.Join(b, "\n")
		if r.Intn(2) == 0 && old != "" {
			old += "\n"
		}
		if r.Intn(2) == 0 && nw != "" {
			nw += "\n"
		}
		if err := os.WriteFile(f, []byte(old), 0o644); err != nil {
			t.Fatal(err)
		}
		d := UnifiedDiff(f, old, nw)
		if d == "" {
			if old != nw {
				t.Fatalf("no diff for %q -> %q", old, nw)
			}
			continue
		}
		cmd := exec.Command("patch", "-d", "/", "-p1", "--no-backup-if-mismatch", "-s")
		cmd.Stdin = strings.NewReader(d)
		out, err := cmd.CombinedOutput()
		got, _ := os.ReadFile(f)
		if err != nil || string(got) != nw {
			t.Fatalf("case %d: patch: %v %s\nold %q\nnew %q\ngot %q\ndiff:\n%s", it, err, out, old, nw, got, d)
		}
	}
}

// TestMigrateBackupIncluded: a backup name an Include would read (here a whole directory) is
// refused before anything is written.
func TestMigrateBackupIncluded(t *testing.T) {
	root := shortTempDir(t)
	stageMigrate(t, root, []namedFile{
		{"etc/apache2/apache2.conf", "Listen 80\nInclude conf.d\n"},
		{"etc/apache2/conf.d/site.conf", "<Location /app>\n\tSetHandler mod_python\n\tPythonHandler app\n</Location>\n"},
	})
	opts := migrateOptions(root, map[string]string{})
	plan, err := Migrate(opts)
	if err != nil {
		t.Fatal(err)
	}
	before := treeSnapshot(t, root)
	err = plan.Apply(StatePath(opts.Config), nil)
	if err == nil || !strings.Contains(err.Error(), "would be read by Apache (Include "+root+"/etc/apache2/conf.d)") {
		t.Fatalf("Apply: %v", err)
	}
	after := treeSnapshot(t, root)
	if len(after) != len(before) {
		t.Errorf("a refused Apply left files: %d, want %d", len(after), len(before))
	}
}
