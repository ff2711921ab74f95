package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/internal/atomicfile"
)

// configFile is the one file a container is persisted in, under
// <root>/<id>/, named as Docker names it.
const configFile = "config.v2.json"

// save writes the container's record atomically (temp file + rename).
// Without durable, the data may sit in the page cache: a daemon crash
// cannot lose it, only a machine crash can, and the start/stop hot path
// is not worth an fsync. Create writes durably.
func (c *Container) save(durable bool) error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.mu.Lock()
	if c.dir == "" {
		c.mu.Unlock()
		return nil // removed
	}
	c.State.Status = c.State.StateString()
	data, err := json.Marshal(&c.record)
	dir := c.dir
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("container %s: encode: %w", c.ID, err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, configFile), data, 0o600, durable)
}

// saveOrLog is save for paths that cannot fail any more (state changes
// already made): the error is logged.
func (c *Container) saveOrLog() {
	if err := c.save(false); err != nil && !errors.Is(err, fs.ErrNotExist) {
		slog.Warn("saving container state", "container", c.ID, "err", err)
	}
}

// loadRecord reads one container's record.
func loadRecord(dir string) (record, error) {
	var rec record
	data, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("%s: %w", filepath.Join(dir, configFile), err)
	}
	if rec.ID != filepath.Base(dir) || rec.Config == nil || rec.HostConfig == nil {
		return rec, fmt.Errorf("%s: not a container record", filepath.Join(dir, configFile))
	}
	return rec, nil
}
