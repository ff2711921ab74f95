package files

import (
	"os"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
)

func TestMain(m *testing.M) { os.Exit(e2e.Main(m)) }
