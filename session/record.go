// This file is the on-disk form of a Record: the buntdb key and the value
// envelope. It holds only encoding, decoding and their limits.
//
// Key: "s:" + id. Value, fixed header then the data:
//
//	| version (1) = 1 | created (8) | accessed (8) | timeout (8) | data ... |
//
// created and accessed are unix nanoseconds, timeout nanoseconds, all
// big-endian int64; a zero time.Time is stored as 0. buntdb's AOF stores
// values as length-prefixed strings, so the binary envelope is safe in it.

package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

const (
	keyPrefix       = "s:"
	envelopeVersion = 1
	envelopeHeader  = 1 + 8 + 8 + 8
)

func recordKey(id string) string { return keyPrefix + id }

// appendEnvelope appends r's value envelope to b.
func appendEnvelope(b []byte, r *Record) []byte {
	b = append(b, envelopeVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(unixNano(r.Created)))
	b = binary.BigEndian.AppendUint64(b, uint64(unixNano(r.Accessed)))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Timeout))
	return append(b, r.Data...)
}

var errShortEnvelope = errors.New("value shorter than its header")

// decodeEnvelope decodes the value stored for id. The Record's Data is a
// copy, so it stays valid whatever buntdb does with v.
func decodeEnvelope(id, v string) (*Record, error) {
	accessed, timeout, err := envelopeExpiry(v)
	if err != nil {
		return nil, err
	}
	return &Record{
		ID:       id,
		Data:     []byte(v[envelopeHeader:]),
		Created:  fromUnixNano(int64(be64(v[1:9]))),
		Accessed: accessed,
		Timeout:  timeout,
	}, nil
}

// envelopeExpiry decodes only what expiry needs, without copying the data.
func envelopeExpiry(v string) (accessed time.Time, timeout time.Duration, err error) {
	if len(v) < envelopeHeader {
		return time.Time{}, 0, errShortEnvelope
	}
	if v[0] != envelopeVersion {
		return time.Time{}, 0, fmt.Errorf("unknown envelope version %d", v[0])
	}
	accessed = fromUnixNano(int64(be64(v[9:17])))
	timeout = time.Duration(be64(v[17:25]))
	return accessed, timeout, nil
}

// be64 is binary.BigEndian.Uint64 on a string, without converting it.
func be64(s string) uint64 {
	_ = s[7]
	return uint64(s[7]) | uint64(s[6])<<8 | uint64(s[5])<<16 | uint64(s[4])<<24 |
		uint64(s[3])<<32 | uint64(s[2])<<40 | uint64(s[1])<<48 | uint64(s[0])<<56
}

// minTime and maxTime bound the times an envelope can hold (int64
// nanoseconds since the epoch: years 1678 to 2262).
var (
	minTime = time.Unix(0, math.MinInt64+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

// checkTime rejects a non-zero t that unix nanoseconds cannot represent.
func checkTime(what string, t time.Time) error {
	if !t.IsZero() && (t.Before(minTime) || t.After(maxTime)) {
		return fmt.Errorf("%s %v out of range", what, t)
	}
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
