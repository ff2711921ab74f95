package storage

import (
	"os"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
)

func TestMain(m *testing.M) {
	code := e2e.Main(m)
	removeHostDirs()
	os.Exit(code)
}
