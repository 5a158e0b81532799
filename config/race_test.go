//go:build race

package config

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts mean nothing under -race (make test also runs the
// allocation tests without it).
const raceEnabled = true
