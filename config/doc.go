// Package config turns the Apache configuration a site already has (httpd.conf
// or apache2.conf, its Includes, Defines and conditional sections) into the
// per-request Python configuration mod_python 3.5 would see; it sits between
// the files on disk and the dispatcher (package dispatch), which asks Lookup
// for every request it receives from Apache over FastCGI.
//
// The work happens in stages, each with its own file:
//
//	config.go   Options, Load, Parse, Config
//	lex.go      lines, continuations, Apache's ap_getword_conf and ${VAR} expansion
//	envvars.go  Debian's envvars file, for ${APACHE_*}
//	read.go     files -> directive tree: Include, Define, ServerRoot, LoadModule and the
//	            read-time conditionals <IfModule>, <IfDefine>, <IfVersion>, <IfFile>
//	build.go    tree -> servers and sections, with Apache's and mod_python's context checks
//	            (and the AllowOverride classes that admit each directive in .htaccess)
//	vhost.go    virtual host selection (Apache's vhost.c), URL -> file (Alias, AliasMatch,
//	            DocumentRoot) for `mpgate explain`
//	merge.go    per-request walks and merge (Apache's request.c: location, directory with
//	            .htaccess files, file, if), mod_python's python_merge_config, cached
//	htaccess.go .htaccess files: read with AllowOverride/AllowOverrideList/AccessFileName,
//	            parsed once, kept valid by inotify (stat where inotify is unavailable)
//	expr.go     <If>/<ElseIf> conditions: the ap_expr subset sites use
//	explain.go  human-readable output for `mpgate explain` and `mpgate config check`
//	errors.go   Error and Warning, which always carry file and line
//
// Load and Parse return an immutable *Config; reloading means loading again
// and swapping the pointer. Every value keeps the file and line it came from,
// so Explain can say why a request got the handlers it got.
//
// .htaccess files are read during the directory walk as Apache's
// ap_directory_walk does: at each directory level, after the <Directory>
// sections of that depth, when the AllowOverride merged so far grants any
// class or an AllowOverrideList names directives (an AllowOverride never
// set still reads them, and allows nothing, as httpd 2.4 does). Every
// mod_python directive is allowed by any class (they are OR_ALL); a
// directive not granted, or one that is never allowed there (PythonImport,
// Alias, Include, <Directory>), makes the file refuse every request below
// it: Merged.Err and Merged.Status (500; 403 for an unreadable file). A
// parsed file is kept until inotify reports a change in its directory or
// an ancestor; the Lookup cache is keyed by the parsed files, so a change
// reaches only the requests below it. Config.Close stops the watching.
//
// <If>, <ElseIf> and <Else> are evaluated by the if walk after the
// location walk when their condition is in the subset of expr.go
// (REQUEST_URI, REQUEST_FILENAME, HTTP_HOST, REQUEST_METHOD, QUERY_STRING,
// HTTPS, HTTP:header, the other CGI variables Apache passes over FastCGI;
// ==, !=, <, =~, !~, in {...}, -eq..., -strmatch, -f, -d, -s, -e, -n, -z,
// &&, ||, !, parentheses); another condition is reported when the
// configuration is read and its section, and the rest of its chain, never
// apply.
//
// Differences from Apache that callers should know about: names in
// <VirtualHost> addresses are not resolved through DNS (they never match by
// address), the last path component of Query.Filename is taken to be a
// file unless it ends in "/", regular expressions are Go's RE2 rather than
// PCRE, directives of modules this package does not know are ignored in
// .htaccess files (Apache would refuse an unknown one), and an .htaccess
// change is seen once inotify delivers its event (microseconds; at once
// with Options.HtaccessStat).
package config
