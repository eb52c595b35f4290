package sqlitestore

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "store.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	for range 2 {
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		files, _ := fs.Glob(migrations, "migrations/*.sql")
		var n int
		if err := s.db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) || n < 2 {
			t.Fatalf("%d migrations recorded, %v", n, err)
		}
		s.Close()
	}
}

// Prices and statistics written as objects, before the compact rows, read back.
func TestObjectsStillRead(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.ObjectsStillRead(t, s, func(id, odds, stats string) error {
		_, err := s.db.Exec(`UPDATE matches SET odds = ?, stats = ? WHERE id = ?`, odds, stats, id)
		return err
	})
}
