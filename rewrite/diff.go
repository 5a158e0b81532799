// This file writes a Plan as a unified diff (diff -u, with git's a/ and b/ prefixes on absolute
// paths): `patch -d / -p1 < FILE` applies it.

package rewrite

import (
	"fmt"
	"strings"
)

// diffContext is the number of unchanged lines around each change, as diff -u.
const diffContext = 3

// Diff returns the plan's changes to files as one unified diff; "" when nothing changes. Each
// file is named "a/PATH" and "b/PATH" with PATH its real absolute path without the leading
// slash, so that `patch -d / -p1` applies it. Links to remove (RemoveLinks) cannot be written in
// a diff: the caller says so.
func (p *Plan) Diff() string {
	var b strings.Builder
	for _, f := range p.Files {
		d := UnifiedDiff(f.Path, string(f.Old), string(f.New))
		if f.Created {
			// A new file: diff -N's header, which patch reads as "create".
			d = "--- /dev/null\n" + d[strings.IndexByte(d, '\n')+1:]
		}
		b.WriteString(d)
	}
	return b.String()
}

// UnifiedDiff returns the unified diff turning old into new, the text of the absolute path name.
func UnifiedDiff(name, old, new string) string {
	if old == new {
		return ""
	}
	a, b := diffLines(old), diffLines(new)
	ops := myers(a, b)
	rel := strings.TrimPrefix(name, "/")
	var out strings.Builder
	fmt.Fprintf(&out, "--- a/%s\n+++ b/%s\n", rel, rel)
	// Hunks: runs of ops with at most 2*diffContext equal lines between changes.
	type hunk struct{ from, to int } // indexes into ops
	var hunks []hunk
	for i := 0; i < len(ops); {
		if ops[i].kind == '=' {
			i++
			continue
		}
		start := max(i-diffContext, 0)
		for start < i && ops[start].kind != '=' {
			start++
		}
		end := i
		for end < len(ops) {
			if ops[end].kind != '=' {
				end++
				continue
			}
			// Count the equal run.
			j := end
			for j < len(ops) && ops[j].kind == '=' {
				j++
			}
			if j == len(ops) || j-end > 2*diffContext {
				end = min(end+diffContext, j)
				break
			}
			end = j
		}
		if len(hunks) > 0 && start <= hunks[len(hunks)-1].to {
			hunks[len(hunks)-1].to = end
		} else {
			hunks = append(hunks, hunk{start, end})
		}
		i = end
	}
	for _, h := range hunks {
		oldStart, newStart := ops[h.from].ai, ops[h.from].bi
		var oldN, newN int
		for _, o := range ops[h.from:h.to] {
			if o.kind != '+' {
				oldN++
			}
			if o.kind != '-' {
				newN++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(oldStart, oldN), hunkRange(newStart, newN))
		for _, o := range ops[h.from:h.to] {
			var l string
			switch o.kind {
			case '+':
				l = b[o.bi]
			default:
				l = a[o.ai]
			}
			mark := string(o.kind)
			if o.kind == '=' {
				mark = " "
			}
			out.WriteString(mark + l)
			if !strings.HasSuffix(l, "\n") {
				out.WriteString("\n\\ No newline at end of file\n")
			}
		}
	}
	return out.String()
}

// hunkRange formats a hunk's start (0-based index of its first line) and length as diff -u does:
// "START,N" with START 1-based, "START" alone for one line, and the line before for none.
func hunkRange(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// diffLines splits text into lines that keep their line endings.
func diffLines(text string) []string {
	var out []string
	for len(text) > 0 {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			out = append(out, text)
			break
		}
		out = append(out, text[:i+1])
		text = text[i+1:]
	}
	return out
}

// diffOp is one line of an edit script: '=' (in both), '-' (only in a) or '+' (only in b), with
// the line's index in a and in b (for '+', ai is where it goes in a; for '-', bi likewise).
type diffOp struct {
	kind   byte
	ai, bi int
}

// myers returns a shortest edit script from a to b (E. Myers, "An O(ND) difference algorithm",
// 1986). Its memory is O((N+M)·D), small for Migrate's few dozen changed lines.
func myers(a, b []string) []diffOp {
	n, m := len(a), len(b)
	maxD := n + m
	off := maxD + 1
	v := make([]int, 2*maxD+3)
	var trace [][]int
	var d int
search:
	for d = 0; d <= maxD; d++ {
		snap := make([]int, len(v))
		copy(snap, v)
		trace = append(trace, snap)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				break search
			}
		}
	}
	// Walk back through the snapshots.
	var rev []diffOp
	x, y := n, m
	for ; d > 0; d-- {
		vd := trace[d]
		k := x - y
		var prevK int
		if k == -d || (k != d && vd[off+k-1] < vd[off+k+1]) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := vd[off+prevK]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x--
			y--
			rev = append(rev, diffOp{'=', x, y})
		}
		if x == prevX {
			y--
			rev = append(rev, diffOp{'+', x, y})
		} else {
			x--
			rev = append(rev, diffOp{'-', x, y})
		}
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, diffOp{'=', x, y})
	}
	ops := make([]diffOp, len(rev))
	for i, o := range rev {
		ops[len(rev)-1-i] = o
	}
	return ops
}
