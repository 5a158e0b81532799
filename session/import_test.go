package session

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestImportOnce: a session is imported once; a second import finds the
// record there and keeps it; after the record is deleted (or expires) the
// marker refuses a new import; an expired record is not imported.
func TestImportOnce(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	id := testID(1)

	if imp, err := s.Imported(ctx, id); err != nil || imp {
		t.Fatalf("Imported before any import = %v, %v; want false, nil", imp, err)
	}
	r := newRecord(id, "from mod_python", time.Hour)
	got, imported, err := s.Import(ctx, r, "/tmp/mp_sess")
	if err != nil || !imported || !sameRecord(got, r) {
		t.Fatalf("first Import = %+v, %v, %v; want the record, true, nil", got, imported, err)
	}
	if loaded, err := s.Load(ctx, id); err != nil || !sameRecord(loaded, r) {
		t.Fatalf("Load after Import = %+v, %v", loaded, err)
	}
	if imp, err := s.Imported(ctx, id); err != nil || !imp {
		t.Fatalf("Imported after the import = %v, %v; want true, nil", imp, err)
	}

	// mpgate saved a newer version meanwhile: a second import keeps it.
	newer := newRecord(id, "changed in mpgate", time.Hour)
	if err := s.Save(ctx, newer); err != nil {
		t.Fatal(err)
	}
	got, imported, err = s.Import(ctx, newRecord(id, "from mod_python again", time.Hour), "/tmp/mp_sess")
	if err != nil || imported || !sameRecord(got, newer) {
		t.Fatalf("second Import = %+v, %v, %v; want mpgate's record, false, nil", got, imported, err)
	}

	// Deleted in mpgate (logout): never imported again.
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Import(ctx, r, "/tmp/mp_sess"); !errors.Is(err, ErrImported) {
		t.Fatalf("Import after Delete: %v, want ErrImported", err)
	}
	if _, err := s.Load(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load after the refused import: %v, want ErrNotFound", err)
	}
	// The marker survives a reopen; markers never show in Range or Purge.
	s = reopen(t, s, Options{})
	if _, _, err := s.Import(ctx, r, "/tmp/mp_sess"); !errors.Is(err, ErrImported) {
		t.Fatalf("Import after reopen: %v, want ErrImported", err)
	}
	n := 0
	if err := s.Range(ctx, func(Record) bool { n++; return true }); err != nil || n != 0 {
		t.Fatalf("Range saw %d records (%v), want 0: markers are not sessions", n, err)
	}
	if purged, err := s.Purge(ctx); err != nil || purged != 0 {
		t.Fatalf("Purge = %d, %v; want 0", purged, err)
	}

	// Expired in mpgate (its copy saved with past times): not imported again.
	id2 := testID(2)
	if _, _, err := s.Import(ctx, newRecord(id2, "x", time.Hour), "f"); err != nil {
		t.Fatal(err)
	}
	old := newRecord(id2, "x", time.Second)
	old.Accessed = time.Now().Add(-time.Minute)
	if err := s.Save(ctx, old); err != nil { // an expired save deletes
		t.Fatal(err)
	}
	if _, _, err := s.Import(ctx, newRecord(id2, "x", time.Hour), "f"); !errors.Is(err, ErrImported) {
		t.Fatalf("Import after expiry in mpgate: %v, want ErrImported", err)
	}

	// An expired mod_python record is refused and leaves no marker.
	id3 := testID(3)
	if _, _, err := s.Import(ctx, old.withID(id3), "f"); !errors.Is(err, ErrExpired) {
		t.Fatalf("Import of an expired record: %v, want ErrExpired", err)
	}
	if imp, _ := s.Imported(ctx, id3); imp {
		t.Fatal("an expired record left an import marker")
	}
	// Bad input is refused naming the cause.
	if _, _, err := s.Import(ctx, newRecord("../x", "x", time.Hour), "f"); !errors.Is(err, ErrBadID) {
		t.Fatalf("Import of a bad id: %v, want ErrBadID", err)
	}
	if _, _, err := s.Import(ctx, newRecord(testID(4), "x", 0), "f"); err == nil {
		t.Fatal("Import with a zero timeout succeeded")
	}
}

func (r *Record) withID(id string) *Record { c := *r; c.ID = id; return &c }

// TestImportConcurrent: of many requests importing the same id at once,
// exactly one imports it and all get the same record.
func TestImportConcurrent(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	id := testID(9)
	var wg sync.WaitGroup
	var mu sync.Mutex
	imports := 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, imported, err := s.Import(ctx, newRecord(id, "same", time.Hour), "f")
			if err != nil || string(got.Data) != "same" {
				t.Errorf("Import: %v, %v", got, err)
				return
			}
			if imported {
				mu.Lock()
				imports++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if imports != 1 {
		t.Fatalf("%d imports of one id, want 1", imports)
	}
}
