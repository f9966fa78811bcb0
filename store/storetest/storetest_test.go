package storetest_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// TestHelperOpenPostgres is run as a subprocess by TestMissingPostgres.
func TestHelperOpenPostgres(t *testing.T) {
	if os.Getenv("MSB_STORETEST_HELPER") != "1" {
		t.Skip("helper for TestMissingPostgres")
	}
	storetest.OpenPostgres(t)
	t.Log("opened")
}

// TestMissingPostgres checks that without TEST_DATABASE_URL the PostgreSQL
// half skips, and fails instead when MSB_REQUIRE_POSTGRES=1.
func TestMissingPostgres(t *testing.T) {
	for _, tt := range []struct {
		require  string
		wantFail bool
		wantOut  string
	}{
		{"", false, "SKIP"},
		{"1", true, "TEST_DATABASE_URL is not set and MSB_REQUIRE_POSTGRES=1"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOpenPostgres$", "-test.v")
		cmd.Env = append(os.Environ(), "MSB_STORETEST_HELPER=1", storetest.EnvURL+"=", storetest.EnvRequire+"="+tt.require)
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tt.wantFail {
			t.Errorf("require=%q: failed=%v, want %v\n%s", tt.require, failed, tt.wantFail, out)
		}
		if !strings.Contains(string(out), tt.wantOut) || strings.Contains(string(out), "opened") {
			t.Errorf("require=%q: output lacks %q or opened a store:\n%s", tt.require, tt.wantOut, out)
		}
	}
}

func TestStoresAreIsolated(t *testing.T) {
	// Two stores of one dialect never see each other's rows.
	for name, open := range map[string]func(testing.TB) *store.Store{
		"sqlite":   storetest.OpenSQLite,
		"postgres": storetest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			a, b := open(t), open(t)
			if err := a.SaveCursor(t.Context(), "src", "q", "c"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := b.Cursor(t.Context(), "src"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("cursor in the other store: %v, want ErrNotFound", err)
			}
		})
	}
}
