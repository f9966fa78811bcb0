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
