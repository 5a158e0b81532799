// Package importer decides which site modules each Python worker must drop
// when their files change on disk: it sits after the workers' END reports
// (package dispatch hands it the modules a worker loaded, with their
// dependencies and the stat of each file as read) and before the CONTROL
// modules.invalidate frame that dispatch sends with a worker's next request.
//
// It has two parts, each in its own file:
//
//	watcher.go   Watcher: notices changes of individual files by watching their
//	             directories with inotify (fsnotify), or by polling where inotify
//	             is unavailable or out of watches, and delivers them debounced,
//	             in Batches; it knows nothing of Python and is meant to serve the
//	             configuration and .htaccess reloader as well
//	poll.go      the stat side of the Watcher: file and directory snapshots,
//	             polling, and the listing that tells when a directory gained or
//	             lost a *.py file or a subdirectory
//	registry.go  Registry: the site modules each worker (Owner) has loaded and
//	             the dependency graph between them; turns a Batch into a pending
//	             Invalidation per worker, taken before the worker's next request
//
// Nothing is stat-ed per request: Registry.Take is a load of an atomic
// counter while nothing is pending. The wire format of what workers report
// and receive is described in dispatch/proto.go.
//
// Known limits: a module file that is a symbolic link is watched through the
// link's directory, so an edit of the link's target is not seen; polling and
// the check of a touched file compare mtime, size and inode, so a rewrite of a
// file with the same size within the file system's timestamp granularity
// (a few milliseconds) of the previous look goes unnoticed.
package importer
