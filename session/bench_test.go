package session

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// benchData is the size of a small pickled session dict (a counter, a
// user name and a few flags), what a login session holds.
var benchData = make([]byte, 256)

var policies = []string{SyncAlways, SyncEverySecond, SyncNever}

// BenchmarkSave measures one Save (one write(2), plus an fsync under
// "always") per sync policy: the figures behind DefaultSync.
func BenchmarkSave(b *testing.B) {
	for _, policy := range policies {
		b.Run(policy, func(b *testing.B) {
			s := newTestStore(b, Options{Sync: policy})
			ctx := context.Background()
			r := newRecord(testID(1), string(benchData), time.Hour)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.ID = testID(i % 1000)
				if err := s.Save(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSaveParallel is BenchmarkSave from 16 goroutines, as 16
// connections would: buntdb has one writer at a time, and under "always"
// every reader waits for the writer's fsync too.
func BenchmarkSaveParallel(b *testing.B) {
	for _, policy := range policies {
		b.Run(policy, func(b *testing.B) {
			s := newTestStore(b, Options{Sync: policy})
			ctx := context.Background()
			b.SetParallelism(16 / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := newRecord(testID(1), string(benchData), time.Hour)
				i := 0
				for pb.Next() {
					r.ID = testID(i % 1000)
					i++
					if err := s.Save(ctx, r); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	for _, policy := range policies {
		b.Run(policy, func(b *testing.B) {
			s := newTestStore(b, Options{Sync: policy})
			ctx := context.Background()
			for i := 0; i < 1000; i++ {
				if err := s.Save(ctx, newRecord(testID(i), string(benchData), time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Load(ctx, testID(i%1000)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLockUnlock is one uncontended Lock/Unlock pair.
func BenchmarkLockUnlock(b *testing.B) {
	s := newTestStore(b, Options{})
	ctx := context.Background()
	id := testID(1)
	deadline := time.Now().Add(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Lock(ctx, id, "req-1", deadline); err != nil {
			b.Fatal(err)
		}
		s.Unlock(id, "req-1")
	}
}

// BenchmarkScale stores 1,000, 10,000 and 100,000 sessions and reports,
// besides Load+Save ns/op on them: the file size after a shrink
// (file-bytes), the heap they take (heap-bytes), and how long Purge takes
// when all of them have expired (purge-ms).
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			s := newTestStore(b, Options{})
			for i := 0; i < n; i++ {
				if err := s.Save(ctx, newRecord(testID(i), string(benchData), 30*time.Minute)); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			if err := s.Shrink(); err != nil {
				b.Fatal(err)
			}
			fi, err := os.Stat(s.path)
			if err != nil {
				b.Fatal(err)
			}

			r := newRecord("", string(benchData), 30*time.Minute)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id := testID(i % n)
				if _, err := s.Load(ctx, id); err != nil {
					b.Fatal(err)
				}
				r.ID = id
				if err := s.Save(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()

			start := time.Now()
			purged, err := s.purge(ctx, time.Now().Add(2*time.Hour))
			if err != nil || purged != n {
				b.Fatalf("purge = %d, %v; want %d", purged, err, n)
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "purge-ms")
			b.ReportMetric(float64(fi.Size()), "file-bytes")
			b.ReportMetric(float64(after.HeapInuse)-float64(before.HeapInuse), "heap-bytes")
		})
	}
}
