// This file picks the TCP port of the daemon's authorizer listener for `mpgate preview --via
// proxy` (mod_authnz_fcgi reaches PythonAuthenHandler over TCP only; serve.go --authz-listen).

package main

import (
	"net"
)

// authzPort returns the port preview gives the daemon's --authz-listen and Apache's
// MPGATE_AUTHZ_PORT, chosen free on 127.0.0.1 on first use.
func (p *previewer) authzPort() int {
	if p.authzPortNum == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			// No free port: the daemon's own listen reports the cause.
			p.authzPortNum = 1
			return p.authzPortNum
		}
		p.authzPortNum = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	return p.authzPortNum
}
