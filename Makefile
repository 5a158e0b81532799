# mpgate — run mod_python sites behind a stock Apache, over FastCGI.
SHELL := /bin/bash
# Targets are one line each; see README.md.

PORT     ?= 8080
VIA      ?= fcgid
GO       ?= go
PYTHON   ?= /usr/bin/python3
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# urfave/cli's man-page and markdown generators (and their blackfriday init) are not used: leaving
# them out saves every start of the binary about 1.5 ms, which `mpgate cgi` pays per request.
TAGS     := urfave_cli_no_docs
# Debian packages the end-to-end tests and `make run` need (apache2-bin, not apache2, whose service takes port 80).
DEBS     := apache2-bin libapache2-mod-fcgid libapache2-mod-python python3 media-types

.PHONY: build run test test-go test-python deps bench fuzz lint clean

build:
	$(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o bin/mpgate ./cmd/mpgate

deps:
	@./scripts/install-debs.sh $(DEBS)

run: deps build
	MPGATE_EXAMPLE=$(CURDIR)/examples/site ./bin/mpgate preview examples/site/site.conf --listen 127.0.0.1:$(PORT) --via $(VIA)

test: deps lint test-python test-go

# The Go files: git's list in a checkout, else every one outside testdata (a tarball, a machine without git).
GOFILES = $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path '*/testdata/*' -not -path './.run/*')

lint:
	@test -z "$$(gofmt -l $(GOFILES))" || { echo "gofmt needed:"; gofmt -l $(GOFILES); exit 1; }
	$(GO) vet ./...

test-go:
	$(GO) test -race -count=1 -timeout 12m ./...
	$(GO) test -count=1 -run 'Alloc' ./config/ ./fcgi/
	$(GO) test -run '^$$' -bench . -benchtime 1x -count=1 ./...

test-python:
	cd dispatch/pyrt && $(PYTHON) -B -m unittest discover -s tests -t . 2>&1 | tail -n 25; exit $${PIPESTATUS[0]}

bench: deps build
	./scripts/bench.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzRecordStream -fuzztime 60s ./fcgi/

clean:
	rm -rf bin
