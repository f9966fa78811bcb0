//go:build !unix

package memlog

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir only creates the lock file: advisory locking is implemented for
// Unix systems, where mashangban is deployed.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock log directory: %w", err)
	}
	return f, nil
}
