// This file connects the workers' site-module caches to the importer: what
// a worker reports at END (the modules it loaded and their dependencies) goes
// into the registry, which watches their files; what the registry decides a
// worker must drop is sent to it as CONTROL modules.invalidate just before its
// next REQUEST, in the same write. Nothing is stat-ed per request.

package dispatch

import (
	"encoding/json"

	"github.com/mpgate/mpgate/importer"
)

// Control commands of the worker wire (CONTROL frames).
const controlInvalidate = "modules.invalidate"

// moduleReport is one ("module", JSON) entry of END's info (see proto.go).
type moduleReport struct {
	File       string   `json:"file"`
	Name       string   `json:"name"`
	Generation int      `json:"generation"`
	Deps       []string `json:"deps"`
	MtimeNs    int64    `json:"mtime_ns"`
	Size       int64    `json:"size"`
	Ino        uint64   `json:"ino"`
	Loaded     float64  `json:"loaded"`
	Reason     string   `json:"reason"`
}

// reportModules hands the site modules a worker loaded during a request to
// the registry. A malformed entry is logged and skipped: it costs at most a
// missed reload, never the request.
func (x *exchange) reportModules(info []KV) {
	var mods []importer.Module
	for _, kv := range info {
		if kv.Key != "module" {
			continue
		}
		var m moduleReport
		if err := json.Unmarshal([]byte(kv.Value), &m); err != nil || m.File == "" {
			x.log().Warn("worker sent a malformed module report", "value", kv.Value, "err", err)
			continue
		}
		mods = append(mods, importer.Module{
			File: m.File, Name: m.Name, Generation: m.Generation, Deps: m.Deps,
			Loaded: unixTime(m.Loaded),
			Stat:   importer.FileStat{MtimeNs: m.MtimeNs, Size: m.Size, Ino: m.Ino},
			Reason: m.Reason,
		})
	}
	if len(mods) > 0 {
		x.s.modules.Report(x.wk.owner, mods)
		if !x.wk.alive() {
			// It exited after END, perhaps before the report: do not keep
			// (and watch) the modules of a dead process.
			x.s.modules.Forget(x.wk.owner)
		}
	}
}

// appendInvalidation appends a CONTROL modules.invalidate frame to b.
func appendInvalidation(b []byte, inv importer.Invalidation) []byte {
	args := make([]KV, 0, len(inv.Changed)+len(inv.Dependents)+1)
	for _, f := range inv.Changed {
		args = append(args, KV{"changed", f})
	}
	for _, f := range inv.Dependents {
		args = append(args, KV{"dependent", f})
	}
	if inv.Rescan {
		args = append(args, KV{"rescan", "1"})
	}
	payload := AppendControl(nil, &ControlFrame{Command: controlInvalidate, Args: args})
	return AppendFrame(b, FrameControl, 0, payload)
}

// Modules reports the site modules every live worker has loaded, for
// `mpgate modules`.
func (s *Server) Modules() []importer.OwnerModules {
	return s.modules.Snapshot()
}

// WatchMode says how changes of site modules are noticed: "inotify",
// "poll", "mixed" or "off".
func (s *Server) WatchMode() string {
	if s.watcher == nil {
		return "off"
	}
	return s.watcher.Mode()
}
