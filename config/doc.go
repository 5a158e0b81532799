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
//	vhost.go    virtual host selection (Apache's vhost.c)
//	merge.go    per-request section walk and merge (Apache's request.c walks, mod_python's
//	            python_merge_config), cached
//	explain.go  human-readable output for `mpgate explain` and `mpgate config check`
//	errors.go   Error and Warning, which always carry file and line
//
// Load and Parse return an immutable *Config; reloading means loading again
// and swapping the pointer. Every value keeps the file and line it came from,
// so Explain can say why a request got the handlers it got.
//
// Differences from Apache that callers should know about: names in
// <VirtualHost> addresses are not resolved through DNS (they never match by
// address), <If>/<ElseIf>/<Else> sections are parsed but never applied, the
// last path component of Query.Filename is taken to be a file unless it ends
// in "/", and regular expressions are Go's RE2 rather than PCRE.
//
// .htaccess files are not read yet. Sections are designed so that a parsed
// .htaccess becomes one more section merged during the <Directory> walk, after
// the <Directory> sections of the same depth, as Apache's ap_directory_walk does.
package config
