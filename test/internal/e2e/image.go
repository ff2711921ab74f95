package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/busyboxtest"
)

// Image is the test image's reference.
const Image = "busybox:latest"

// BusyboxTar is the test image's root filesystem (see package
// busyboxtest) made of /bin/busybox, or of E2E_BUSYBOX, with
// /var/www/index.html for httpd.
func BusyboxTar() ([]byte, error) { return busyboxTar() }

var busyboxTar = sync.OnceValues(func() ([]byte, error) {
	return busyboxtest.Rootfs{
		Busybox: os.Getenv("E2E_BUSYBOX"),
		Files:   map[string]string{"var/www/index.html": IndexHTML},
	}.Tar()
})

// IndexHTML is the body httpd serves from /var/www in the test image.
const IndexHTML = "hello from the e2e busybox image\n"

// ImportBusybox imports the test image as busybox:latest through the stock
// docker CLI (`docker import - busybox:latest`), as a user would.
func (e *Engine) ImportBusybox(ctx context.Context) error {
	data, err := BusyboxTar()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	r := e.Docker().run(ctx, bytes.NewReader(data), "import", "-", Image)
	if r.Code != 0 {
		return fmt.Errorf("%s", r)
	}
	return nil
}
