// Package rewrite turns a mod_python site's Apache configuration into one that a stock Apache 2.4,
// without mod_python, serves through mpgate. The stage before it is the site's configuration as its
// owner wrote it; the stage after it is Apache, which reads the rewritten copy and forwards what
// mod_python used to handle over FastCGI (mod_proxy_fcgi or mod_fcgid) to the mpgate daemon, which
// reads the original (config.Parse).
//
// Site copies a main file and every file it includes into an output directory, changing only:
//
//   - Every Python* directive, every "SetHandler mod_python|python-program", every
//     "AddHandler mod_python|python-program EXT..." and "LoadModule python_module" line is kept
//     verbatim inside <IfDefine MPGATE> ... </IfDefine>. Apache never defines MPGATE, so neither a
//     stock Apache (which would reject the Python* directives) nor a still-loaded mod_python runs
//     them; mpgate always defines it and reads them as before. Lines already inside
//     <IfDefine MPGATE> are left alone, so rewriting a rewritten file changes nothing.
//   - Next to each handler line, the FastCGI handler that replaces it (see Via). For AddHandler it is
//     wrapped in a <FilesMatch> (or an <If> where <FilesMatch> is not allowed) that matches exactly
//     the files mod_mime gives the handler: an extension anywhere among the dot-separated parts of
//     the file name after the first ("x.py.bak" too, ".py" not), compared without case.
//   - Each <VirtualHost> gets "SetEnv MPGATE_VHOST FILE:LINE" naming its own opening line in the
//     original, which the daemon receives as a FastCGI param and uses to pick the virtual host.
//   - Include and IncludeOptional name the rewritten copies: every file the original includes is
//     copied to OutDir + its absolute path, so a wildcard keeps matching the same names.
//
// # <IfModule> and the placement of the FastCGI handler
//
// mpgate reads <IfModule mod_python.c> and <IfModule python_module> as true; a stock Apache reads
// them as false. Such blocks are kept (their Python lines guarded, so a still-loaded mod_python stays
// idle), but the FastCGI handler replacing a handler inside one is written after the block's
// closing line, inside copies of the sections between the block and the handler: inside the block,
// a stock Apache would never see it and would serve the section's files, Python source included, as
// static files. <IfModule !mod_python.c> is the opposite (false for mpgate, true for a stock Apache:
// typically a "deny everything, mod_python is missing" fallback), so the whole block goes inside
// <IfDefine MPGATE>, which makes Apache skip it as the mod_python server did. A handler that mpgate
// reads as disabled (inside <IfDefine !MPGATE>) is guarded but gets no FastCGI handler.
//
// # Known differences from mod_mime
//
// The <FilesMatch> replacing an AddHandler is a <Files> section, so it outranks a SetHandler of a
// deeper <Directory> and ignores "RemoveHandler .py" and later extensions mapped to other handlers
// ("x.py.cgi" with "AddHandler cgi-script .cgi"), which mod_mime would honour. Such requests reach
// the daemon, which applies mod_mime's rules itself.
//
// # Access files
//
// With Options.AccessFiles (mpgate preview), the .htaccess files Apache would read (access.go:
// under each DocumentRoot and <Directory>, where AllowOverride or AllowOverrideList lets Apache
// read them, by every AccessFileName) are rewritten too, untouched on disk: each becomes a
// <Directory> section of Result.AccessConf, included after the site, which merges where the file
// would (see accessConf for the two differences), and Apache reads no access file itself.
//
// # Migrate
//
// Migrate (migrate.go) edits a server's real configuration in place instead of copying it, for
// the sections chosen (the others stay with a still-loaded mod_python), .htaccess files included;
// Plan.Diff shows the change as a unified diff, Plan.Apply writes it with backups and a state
// file (apply.go), Revert undoes every step. Via "cgi" (ViaCGI) is a third transport: each
// handler becomes SetHandler mpgate-relay, which apache-conf/mpgate-cgi.conf maps to the relay.
package rewrite
