package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

// TestSQLiteBusyIsRetryable provokes a real SQLITE_BUSY (a second writer
// with no busy timeout) and checks InTx would retry it.
func TestSQLiteBusyIsRetryable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "busy.db")
	d, err := openSQLite(ctx, path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Exec(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- d.InTx(ctx, func(tx Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO t (x) VALUES (1)`); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	tx, err := other.BeginTx(ctx, nil)
	if err == nil {
		tx.Rollback()
		t.Fatal("second writer got the lock while the first held it")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !sqliteRetryable(err) {
		t.Errorf("sqliteRetryable(%v) = false, want true", err)
	}
	if sqliteRetryable(errors.New("busy")) || sqliteRetryable(ErrNotFound) {
		t.Error("sqliteRetryable is true for a non-SQLite error")
	}
}

func TestSQLiteDSN(t *testing.T) {
	tests := []struct{ path, query, want string }{
		{"/d/m.db", "", "file:/d/m.db?_pragma=busy_timeout%285000%29&_pragma=journal_mode%28WAL%29&_pragma=foreign_keys%281%29&_pragma=synchronous%28FULL%29&_txlock=immediate"},
		{"/d/m.db", "_pragma=synchronous(OFF)&_txlock=deferred", "file:/d/m.db?_pragma=busy_timeout%285000%29&_pragma=journal_mode%28WAL%29&_pragma=foreign_keys%281%29&_pragma=synchronous%28OFF%29&_txlock=deferred"},
		{"/d/m.db", "_pragma=Busy_Timeout = 10", "file:/d/m.db?_pragma=journal_mode%28WAL%29&_pragma=foreign_keys%281%29&_pragma=synchronous%28FULL%29&_pragma=Busy_Timeout+%3D+10&_txlock=immediate"},
		{"/d/50%#?.db", "", "file:/d/50%25%23%3f.db?_pragma=busy_timeout%285000%29&_pragma=journal_mode%28WAL%29&_pragma=foreign_keys%281%29&_pragma=synchronous%28FULL%29&_txlock=immediate"},
	}
	for _, tt := range tests {
		got, err := sqliteDSN(tt.path, tt.query)
		if err != nil || got != tt.want {
			t.Errorf("sqliteDSN(%q, %q) =\n %q, %v\nwant %q", tt.path, tt.query, got, err, tt.want)
		}
	}
	if _, err := sqliteDSN("/d/m.db", "%zz"); err == nil {
		t.Error("bad query: no error")
	}
}

func TestSQLiteSettings(t *testing.T) {
	ctx := context.Background()
	d, err := openSQLite(ctx, filepath.Join(t.TempDir(), "m.db"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "synchronous": "2", "busy_timeout": "5000"} {
		var got string
		if err := d.QueryRow(ctx, "PRAGMA "+pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
}
