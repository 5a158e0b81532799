package config

import (
	"errors"
	"strings"
	"testing"
)

// TestParseErrors checks that each broken line is reported with its file,
// line and directive, with the cause Apache gives.
func TestParseErrors(t *testing.T) {
	files := map[string]string{
		"/etc/apache2/broken.conf": "<Directory /srv/inc>\nPythonHandler x\n",
		"/etc/apache2/loop.conf":   "Include loop.conf\n",
	}
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unclosed section", "ServerName x\n<Directory /srv/www>\nPythonHandler h\n",
			[]string{"httpd.conf:2: <Directory>: was not closed"}},
		{"unclosed nested", "<VirtualHost *:80>\n<Location /a>\n</VirtualHost>\n",
			[]string{"httpd.conf:1: <VirtualHost>: was not closed", "httpd.conf:2: <Location>: was not closed", "httpd.conf:3: </VirtualHost>: expected </Location> (opened at line 2)"}},
		{"close without open", "</Directory>\n", []string{"httpd.conf:1: </Directory>: without matching <Directory> section"}},
		{"missing bracket", "<Directory /srv\n</Directory>\n", []string{"httpd.conf:1: <Directory>: missing closing '>'"}},
		{"missing argument", "<Location>\n</Location>\n", []string{"httpd.conf:1: <Location>: requires additional arguments"}},
		{"bad flag", "PythonDebug Maybe\n", []string{"httpd.conf:1: PythonDebug: must be On or Off"}},
		{"flag two words", "PythonAutoReload On Off\n", []string{"httpd.conf:1: PythonAutoReload: must be On or Off"}},
		{"flag missing", "PythonDebug\n", []string{"httpd.conf:1: PythonDebug: must be On or Off"}},
		{"take1 none", "PythonPath\n", []string{"httpd.conf:1: PythonPath: takes one argument"}},
		{"take1 two", "PythonInterpreter a b\n", []string{"httpd.conf:1: PythonInterpreter: takes one argument"}},
		{"take1 empty quoted", "PythonPath \"\"\n", []string{"httpd.conf:1: PythonPath: takes one argument"}},
		{"option three", "PythonOption a b c\n", []string{"httpd.conf:1: PythonOption: takes 1-2 arguments"}},
		{"option none", "PythonOption\n", []string{"httpd.conf:1: PythonOption: takes 1-2 arguments"}},
		{"import one", "PythonImport mod\n", []string{"httpd.conf:1: PythonImport: takes two arguments"}},
		{"trans in directory", "<Directory /srv>\nPythonTransHandler t\n</Directory>\n",
			[]string{"httpd.conf:2: PythonTransHandler: not allowed in <Directory> context"}},
		{"postread in location", "<Location />\nPythonPostReadRequestHandler p\n</Location>\n",
			[]string{"httpd.conf:2: PythonPostReadRequestHandler: not allowed in <Location> context"}},
		{"import in files", "<Files x>\nPythonImport m i\n</Files>\n", []string{"httpd.conf:2: PythonImport: not allowed in <Files> context"}},
		{"trans with ext", "PythonTransHandler t | .py\n", []string{`httpd.conf:1: PythonTransHandler: does not accept "| .ext" syntax`}},
		{"optimize in dir", "<Directory />\nPythonOptimize On\n</Directory>\n", []string{"httpd.conf:2: PythonOptimize: not allowed in <Directory> context"}},
		{"connection in vhost ok, in dir not", "<Directory />\nPythonConnectionHandler c\n</Directory>\n",
			[]string{"httpd.conf:2: PythonConnectionHandler: not allowed in <Directory> context"}},
		{"filter args", "PythonOutputFilter\n", []string{"httpd.conf:1: PythonOutputFilter: takes 1-2 arguments"}},
		{"directory in directory", "<Directory /a>\n<Directory /b>\n</Directory>\n</Directory>\n",
			[]string{"httpd.conf:2: <Directory>: cannot occur within directory context"}},
		{"location in limit", "<Limit GET>\n<Location /a>\n</Location>\n</Limit>\n",
			[]string{"httpd.conf:2: <Location>: cannot occur within <Limit> or <LimitExcept> section"}},
		{"files in location", "<Location /a>\n<Files x>\n</Files>\n</Location>\n",
			[]string{"httpd.conf:2: <Files>: cannot occur within <Location> section"}},
		{"vhost in vhost", "<VirtualHost *>\n<VirtualHost *>\n</VirtualHost>\n</VirtualHost>\n",
			[]string{"httpd.conf:2: <VirtualHost>: cannot occur within <VirtualHost> section"}},
		{"vhost bad port", "<VirtualHost *:99999>\n</VirtualHost>\n", []string{"httpd.conf:1: <VirtualHost>: the address or port is invalid"}},
		{"bad regex", "<LocationMatch \"(?!x)\">\n</LocationMatch>\n",
			[]string{"httpd.conf:1: <LocationMatch>: regex could not be compiled: error parsing regexp: invalid or unsupported Perl syntax: `(?!`"}},
		{"server alias in main", "ServerAlias a\n", []string{"httpd.conf:1: ServerAlias: only used in <VirtualHost>"}},
		{"server name in dir", "<Directory />\nServerName x\n</Directory>\n", []string{"httpd.conf:2: ServerName: not allowed in <Directory> context"}},
		{"server name port", "ServerName x:0\n", []string{`httpd.conf:1: ServerName: the port number "0" is outside the appropriate range (i.e., 1..65535)`}},
		{"authtype at server level", "AuthType Basic\n", []string{"httpd.conf:1: AuthType: not allowed here"}},
		{"trans in limit", "<Directory /srv>\n<Limit GET>\nPythonTransHandler t\n</Limit>\n</Directory>\n",
			[]string{"httpd.conf:3: PythonTransHandler: not allowed in <Limit> context"}},
		{"trans in ifmodule in directory", "<Directory /srv>\n<IfModule mod_python.c>\nPythonTransHandler t\n</IfModule>\n</Directory>\n",
			[]string{"httpd.conf:3: PythonTransHandler: not allowed in <Directory> context"}},
		{"authtype in vhost", "<VirtualHost *>\nAuthName x\n</VirtualHost>\n", []string{"httpd.conf:2: AuthName: not allowed in <VirtualHost> context"}},
		{"allowoverride bad", "<Directory />\nAllowOverride Everything\n</Directory>\n",
			[]string{"httpd.conf:2: AllowOverride: illegal override option Everything"}},
		{"listen in vhost", "<VirtualHost *>\nListen 80\n</VirtualHost>\n", []string{"httpd.conf:2: Listen: cannot occur within <VirtualHost> section"}},
		{"errordocument code", "ErrorDocument 999 /x\n", []string{"httpd.conf:1: ErrorDocument: unsupported HTTP response code 999"}},
		{"addhandler one", "AddHandler mod_python\n", []string{"httpd.conf:1: AddHandler: requires at least two arguments"}},
		{"sethandler none", "SetHandler\n", []string{"httpd.conf:1: SetHandler: takes one argument"}},
		{"signature", "ServerSignature Maybe\n", []string{"httpd.conf:1: ServerSignature: use one of: off | on | email"}},
		{"error directive", "<IfDefine !MPGATE>\nError \"never\"\n</IfDefine>\nError \"mod_python is required\"\n",
			[]string{"httpd.conf:4: Error: mod_python is required"}},
		{"include missing", "Include /nonexistent/x.conf\n",
			[]string{"httpd.conf:1: Include: could not open configuration file /nonexistent/x.conf: file does not exist"}},
		{"include wildcard no match", "Include /etc/apache2/none-*.conf\n",
			[]string{"httpd.conf:1: Include: no matches for the wildcard 'none-*.conf' in '/etc/apache2'"}},
		{"include unclosed inside", "Include broken.conf\n",
			[]string{"/etc/apache2/broken.conf:1: <Directory>: was not closed"}},
		{"include loop", "Include loop.conf\n",
			[]string{"/etc/apache2/loop.conf:1: Include: exceeded maximum include depth of 16, there appears to be a recursion"}},
		{"define colon", "Define a:b\n", []string{"httpd.conf:1: Define: variable name must not contain ':'"}},
		{"serverroot in vhost", "<VirtualHost *>\nServerRoot /\n</VirtualHost>\n", []string{"httpd.conf:2: ServerRoot: cannot occur within <VirtualHost> section"}},
		{"serverroot missing dir", "ServerRoot /nonexistent\n", []string{"httpd.conf:1: ServerRoot: must be a valid directory"}},
		{"false ifdefine unclosed", "<IfDefine NOPE>\nPythonDebug On\n", []string{"httpd.conf:1: <IfDefine>: was not closed"}},
		{"false ifdefine mismatched", "<IfDefine NOPE>\n<Directory />\n</Location>\n</IfDefine>\n",
			[]string{"httpd.conf:1: <IfDefine>: expected </Directory> but saw </Location> at line 3"}},
		{"ifmodule no name", "<IfModule>\n</IfModule>\n", []string{"httpd.conf:1: <IfModule>: requires additional arguments"}},
		{"else with argument", "<Else x>\n</Else>\n", []string{"httpd.conf:1: <Else>: does not take an argument"}},
		{"keeps going", "PythonDebug Maybe\nPythonAutoReload Perhaps\n",
			[]string{"httpd.conf:1: PythonDebug: must be On or Off", "httpd.conf:2: PythonAutoReload: must be On or Off"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("httpd.conf", []byte(tt.src), Options{ServerRoot: "/etc/apache2", fs: newMemFS(files)})
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want %q", tt.src, tt.want)
			}
			var got []string
			for _, e := range c.Errors {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Parse(%q) errors:\n%s\nwant:\n%s", tt.src, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File == "" || ce.Line == 0 {
				t.Errorf("Parse(%q) error %v is not a *Error with a position", tt.src, err)
			}
		})
	}
}

// TestWarnings checks constructs that are accepted but reported.
func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"fastcgi limits", "PythonConnectionHandler c\nPythonInputFilter f F\nPythonOutputFilter g\nPythonEnablePdb On\nPythonEnablePdb Off\n", []string{
			"httpd.conf:1: PythonConnectionHandler: cannot be honoured behind FastCGI; ignored",
			"httpd.conf:2: PythonInputFilter: cannot be honoured behind FastCGI; ignored",
			"httpd.conf:3: PythonOutputFilter: cannot be honoured behind FastCGI; ignored",
			"httpd.conf:4: PythonEnablePdb: cannot be honoured behind FastCGI; ignored",
		}},
		{"undefined variable", "PythonOption x ${MPGATE_TEST_NOT_SET}\nPythonOption y ${map:key}\n",
			[]string{"httpd.conf:1: PythonOption: config variable ${MPGATE_TEST_NOT_SET} is not defined"}},
		{"if", "<If \"%{TIME_HOUR} -gt 12\">\nPythonDebug On\n</If>\n",
			[]string{"httpd.conf:1: <If>: condition not evaluated (variable %{TIME_HOUR}: not evaluated by mpgate); the directives inside never apply"}},
		{"if evaluated", "<If \"true\">\nPythonDebug On\n</If>\n", nil},
		{"import in vhost", "<VirtualHost *>\nPythonImport m i\n</VirtualHost>\n",
			[]string{"httpd.conf:2: PythonImport: inside <VirtualHost> it never runs: mod_python only reads the main server's imports"}},
		{"true conditional unclosed", "<IfModule mod_python.c>\nPythonDebug On\n",
			[]string{"httpd.conf:1: <IfModule>: was not closed"}},
		{"ifversion unparsable", "<IfVersion >= x.y>\n</IfVersion>\n",
			[]string{`httpd.conf:1: <IfVersion>: cannot evaluate ">= x.y"; taken as true`}},
		{"dns vhost", "<VirtualHost www.example.com:80>\n</VirtualHost>\n",
			[]string{"httpd.conf:1: <VirtualHost>: address www.example.com:80 is a host name; mpgate does not resolve names, so it never matches by address"}},
		{"nested files", "<Files a>\n<Files b>\n</Files>\n</Files>\n",
			[]string{"httpd.conf:2: <Files>: a <Files> section inside another never applies (Apache's file walk only looks at the outer level)"}},
		{"empty handler", "PythonHandler\n", []string{"httpd.conf:1: PythonHandler: no handler given; nothing is registered"}},
		{"allowoverride in location", "<Location />\nAllowOverride All\n</Location>\n",
			[]string{"httpd.conf:2: AllowOverride: useless outside <Directory>: .htaccess files are only looked for by the directory walk"}},
		{"macro use", "Use Site a\n", []string{"httpd.conf:1: Use: mod_macro is not expanded; directives from the macro are not seen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.src, nil)
			var got []string
			for _, w := range c.Warnings {
				got = append(got, w.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Parse(%q) warnings:\n%s\nwant:\n%s", tt.src, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
