package logs

import (
	"fmt"
	"strconv"

	"github.com/containerd/errdefs"
	units "github.com/docker/go-units"
)

// Driver names.
const (
	JSONFile = "json-file"
	Local    = "local"
	None     = "none"
)

// Drivers lists the log drivers berth has, for /info and configuration
// checks.
func Drivers() []string { return []string{JSONFile, Local, None} }

// fileOpts is a driver's parsed rotation settings.
type fileOpts struct {
	maxSize  int64 // -1: never rotate
	maxFiles int   // files kept, the current one included
	compress bool  // gzip rotated files
}

// Options Docker accepts besides rotation; they only shape metadata that
// these drivers do not record, so they are accepted and ignored.
var attrOpts = map[string]bool{"labels": true, "labels-regex": true, "env": true, "env-regex": true, "tag": true}

// ValidateOpts checks a driver name and its options, with Docker's messages.
func ValidateOpts(driver string, opts map[string]string) error {
	_, err := parseOpts(driver, opts)
	return err
}

func invalid(format string, args ...any) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(format, args...))
}

func parseOpts(driver string, opts map[string]string) (fileOpts, error) {
	switch driver {
	case None:
		return fileOpts{}, nil
	case JSONFile:
		return parseJSONFileOpts(opts)
	case Local:
		return parseLocalOpts(opts)
	default:
		return fileOpts{}, invalid("error looking up logging plugin %s: plugin %q not found", driver, driver)
	}
}

func parseJSONFileOpts(opts map[string]string) (fileOpts, error) {
	for k := range opts {
		if k != "max-size" && k != "max-file" && k != "compress" && !attrOpts[k] {
			return fileOpts{}, invalid("unknown log opt '%s' for json-file log driver", k)
		}
	}
	o := fileOpts{maxSize: -1, maxFiles: 1}
	if s, ok := opts["max-size"]; ok {
		n, err := units.FromHumanSize(s)
		if err != nil {
			return o, invalid("%s", err)
		}
		if n <= 0 {
			return o, invalid("max-size must be a positive number")
		}
		o.maxSize = n
	}
	if s, ok := opts["max-file"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return o, invalid("%s", err)
		}
		if n < 1 {
			return o, invalid("max-file cannot be less than 1")
		}
		o.maxFiles = n
	}
	if s, ok := opts["compress"]; ok {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return o, invalid("%s", err)
		}
		if b && (o.maxFiles == 1 || o.maxSize == -1) {
			return o, invalid("compress cannot be true when max-file is less than 2 or max-size is not set")
		}
		o.compress = b
	}
	return o, nil
}

func parseLocalOpts(opts map[string]string) (fileOpts, error) {
	for k := range opts {
		if k != "max-size" && k != "max-file" && k != "compress" && !attrOpts[k] {
			return fileOpts{}, invalid("unknown log opt '%s' for log driver local", k)
		}
	}
	o := fileOpts{maxSize: 20 * 1024 * 1024, maxFiles: 5, compress: true}
	if s, ok := opts["max-size"]; ok {
		n, err := units.FromHumanSize(s)
		if err != nil {
			return o, invalid("invalid value for max-size: %s: %s", s, err)
		}
		o.maxSize = n
	}
	if s, ok := opts["max-file"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return o, invalid("invalid value for max-file: %s: %s", s, err)
		}
		o.maxFiles = n
	}
	if s, ok := opts["compress"]; ok {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return o, invalid("invalid value for compress: %s: %s", s, err)
		}
		o.compress = b
	}
	if o.maxSize < 0 {
		return o, invalid("max size should be a positive number")
	}
	if o.maxFiles < 0 {
		return o, invalid("max file count cannot be less than 0")
	}
	if o.compress && o.maxFiles <= 1 {
		return o, invalid("compression cannot be enabled when max file count is 1")
	}
	if o.maxSize == 0 {
		o.maxSize = -1
	}
	if o.maxFiles == 0 {
		o.maxFiles = 1
	}
	return o, nil
}
