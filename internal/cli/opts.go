package cli

// Flag value types and validators shared by run, create, exec and update.
// They follow the docker CLI's (github.com/docker/cli/opts, Apache-2.0) so
// that values are accepted, normalised and rejected with the same messages.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
)

// optValidator checks a flag value and may return it normalised.
type optValidator func(val string) (string, error)

// listOpts is a repeatable string flag ("list" in help output).
type listOpts struct {
	values    *[]string
	validator optValidator
}

func newListOpts(validator optValidator) listOpts {
	var values []string
	return listOpts{values: &values, validator: validator}
}

func (o *listOpts) String() string {
	if len(*o.values) == 0 {
		return ""
	}
	return fmt.Sprintf("%v", *o.values)
}

func (o *listOpts) Set(value string) error {
	if o.validator != nil {
		v, err := o.validator(value)
		if err != nil {
			return err
		}
		value = v
	}
	*o.values = append(*o.values, value)
	return nil
}

func (*listOpts) Type() string { return "list" }

// GetSlice is also cobra's SliceValue hook.
func (o *listOpts) GetSlice() []string { return *o.values }

// GetAllOrEmpty never returns nil: the daemon treats a nil DNS list on an
// old container differently from an empty one.
func (o *listOpts) GetAllOrEmpty() []string {
	if *o.values == nil {
		return []string{}
	}
	return *o.values
}

// GetMap removes duplicates.
func (o *listOpts) GetMap() map[string]struct{} {
	m := make(map[string]struct{}, len(*o.values))
	for _, v := range *o.values {
		m[v] = struct{}{}
	}
	return m
}

func (o *listOpts) Get(key string) bool { return slices.Contains(*o.values, key) }
func (o *listOpts) Len() int            { return len(*o.values) }

// mapOpts is a repeatable key=value flag ("map" in help output).
type mapOpts struct {
	values    map[string]string
	validator optValidator
}

func newMapOpts(validator optValidator) *mapOpts {
	return &mapOpts{values: map[string]string{}, validator: validator}
}

func (o *mapOpts) Set(value string) error {
	if o.validator != nil {
		v, err := o.validator(value)
		if err != nil {
			return err
		}
		value = v
	}
	k, v, _ := strings.Cut(value, "=")
	o.values[k] = v
	return nil
}

func (o *mapOpts) GetAll() map[string]string { return o.values }
func (o *mapOpts) String() string            { return fmt.Sprintf("%v", o.values) }
func (*mapOpts) Type() string                { return "map" }

// validateEnv fills in a bare NAME from the client's environment, as
// docker does; names themselves are the container's business.
func validateEnv(val string) (string, error) {
	k, _, hasValue := strings.Cut(val, "=")
	if k == "" {
		return "", errors.New("invalid environment variable: " + val)
	}
	if hasValue {
		return val, nil
	}
	if envVal, ok := os.LookupEnv(k); ok {
		return k + "=" + envVal, nil
	}
	return val, nil
}

func validateIPAddress(val string) (string, error) {
	if ip := net.ParseIP(strings.TrimSpace(val)); ip != nil {
		return ip.String(), nil
	}
	return "", fmt.Errorf("IP address is not correctly formatted: %s", val)
}

var (
	alphaRegexp  = regexp.MustCompile(`[a-zA-Z]`)
	domainRegexp = regexp.MustCompile(`^(:?(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]))(:?\.(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])))*)\.?\s*$`)
)

// validateDNSSearch accepts a domain, or "." for an empty search list.
func validateDNSSearch(val string) (string, error) {
	if val = strings.Trim(val, " "); val == "." {
		return val, nil
	}
	if alphaRegexp.FindString(val) == "" {
		return "", fmt.Errorf("%s is not a valid domain", val)
	}
	ns := domainRegexp.FindSubmatch([]byte(val))
	if len(ns) > 0 && len(ns[1]) < 255 {
		return string(ns[1]), nil
	}
	return "", fmt.Errorf("%s is not a valid domain", val)
}

const whiteSpaces = " \t"

func validateLabel(value string) (string, error) {
	key, _, _ := strings.Cut(value, "=")
	key = strings.TrimLeft(key, whiteSpaces)
	if key == "" {
		return "", fmt.Errorf("invalid label '%s': empty name", value)
	}
	if strings.ContainsAny(key, whiteSpaces) {
		return "", fmt.Errorf("label '%s' contains whitespaces", key)
	}
	return value, nil
}

// validateSysctl allows only namespaced sysctls, as docker's CLI does.
func validateSysctl(val string) (string, error) {
	validSysctlMap := map[string]bool{
		"kernel.msgmax":          true,
		"kernel.msgmnb":          true,
		"kernel.msgmni":          true,
		"kernel.sem":             true,
		"kernel.shmall":          true,
		"kernel.shmmax":          true,
		"kernel.shmmni":          true,
		"kernel.shm_rmid_forced": true,
	}
	k, _, ok := strings.Cut(val, "=")
	if !ok || k == "" {
		return "", fmt.Errorf("sysctl '%s' is not allowed", val)
	}
	if validSysctlMap[k] || strings.HasPrefix(k, "net.") || strings.HasPrefix(k, "fs.mqueue.") {
		return val, nil
	}
	return "", fmt.Errorf("sysctl '%s' is not allowed", val)
}

const hostGatewayName = "host-gateway"

// validateExtraHost accepts name:ip, name=ip and name:[ipv6] and returns
// the name:ip form the daemon understands.
func validateExtraHost(val string) (string, error) {
	k, v, ok := strings.Cut(val, "=")
	if !ok {
		k, v, ok = strings.Cut(val, ":")
	}
	if !ok || k == "" || strings.Contains(k, ":") {
		return "", fmt.Errorf("bad format for add-host: %q", val)
	}
	if v != hostGatewayName {
		if len(v) > 2 && v[0] == '[' && v[len(v)-1] == ']' {
			v = v[1 : len(v)-1]
		}
		if _, err := validateIPAddress(v); err != nil {
			return "", fmt.Errorf("invalid IP address in add-host: %q", v)
		}
	}
	return k + ":" + v, nil
}

// validateLink checks the name[:alias] form of --link.
func validateLink(val string) (string, error) {
	if val == "" {
		return val, errors.New("empty string specified for links")
	}
	if len(strings.SplitN(val, ":", 3)) > 2 {
		return val, errors.New("bad format for links: " + val)
	}
	return val, nil
}

// nanoCPUs is --cpus: a decimal number of CPUs sent as 1e-9 CPUs.
type nanoCPUs int64

func (c *nanoCPUs) String() string {
	if *c == 0 {
		return ""
	}
	return big.NewRat(int64(*c), 1e9).FloatString(3)
}

func (c *nanoCPUs) Set(value string) error {
	cpus, err := parseCPUs(value)
	*c = nanoCPUs(cpus)
	return err
}

func (*nanoCPUs) Type() string   { return "decimal" }
func (c *nanoCPUs) Value() int64 { return int64(*c) }

func parseCPUs(value string) (int64, error) {
	cpu, ok := new(big.Rat).SetString(value)
	if !ok {
		return 0, fmt.Errorf("failed to parse %v as a rational number", value)
	}
	nano := cpu.Mul(cpu, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return 0, errors.New("value is too precise")
	}
	return nano.Num().Int64(), nil
}

// memBytes is a human size such as 128m or 2g.
type memBytes int64

// String returns "0" for zero so that pflag hides the default.
func (m *memBytes) String() string {
	if *m != 0 {
		return units.BytesSize(float64(*m))
	}
	return "0"
}

func (m *memBytes) Set(value string) error {
	val, err := units.RAMInBytes(value)
	*m = memBytes(val)
	return err
}

func (*memBytes) Type() string   { return "bytes" }
func (m *memBytes) Value() int64 { return int64(*m) }

// memSwapBytes is a memBytes that also accepts -1 (unlimited swap).
type memSwapBytes int64

func (m *memSwapBytes) Set(value string) error {
	if value == "-1" {
		*m = -1
		return nil
	}
	val, err := units.RAMInBytes(value)
	*m = memSwapBytes(val)
	return err
}

func (*memSwapBytes) Type() string   { return "bytes" }
func (m *memSwapBytes) Value() int64 { return int64(*m) }
func (m *memSwapBytes) String() string {
	b := memBytes(*m)
	return b.String()
}

// parseRestartPolicy is syntactic only: the daemon judges policy names
// and retry counts, and its messages are the ones users see.
func parseRestartPolicy(policy string) (container.RestartPolicy, error) {
	if policy == "" {
		return container.RestartPolicy{}, nil
	}
	name, count, ok := strings.Cut(policy, ":")
	if ok && name == "" {
		return container.RestartPolicy{}, errors.New("invalid restart policy format: no policy provided before colon")
	}
	var retryCount int
	if count != "" {
		c, err := strconv.Atoi(count)
		if err != nil {
			return container.RestartPolicy{}, errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
		retryCount = c
	}
	return container.RestartPolicy{Name: container.RestartPolicyMode(name), MaximumRetryCount: retryCount}, nil
}

// readKVEnvStrings reads --env-file files and appends the -e overrides;
// a bare NAME takes its value from the client's environment.
func readKVEnvStrings(files, override []string) ([]string, error) {
	return readKVStrings(files, override, os.LookupEnv)
}

// readKVLabelStrings is readKVEnvStrings for --label-file: no lookups.
func readKVLabelStrings(files, override []string) ([]string, error) {
	return readKVStrings(files, override, nil)
}

func readKVStrings(files, override []string, lookup func(string) (string, bool)) ([]string, error) {
	var variables []string
	for _, ef := range files {
		parsed, err := parseKVFile(ef, lookup)
		if err != nil {
			return nil, err
		}
		variables = append(variables, parsed...)
	}
	return append(variables, override...), nil
}

func parseKVFile(filename string, lookup func(string) (string, bool)) ([]string, error) {
	fh, err := os.Open(filename)
	if err != nil {
		return []string{}, err
	}
	defer fh.Close()
	out, err := parseKVReader(fh, lookup)
	if err != nil {
		return []string{}, fmt.Errorf("invalid env file (%s): %v", filename, err)
	}
	return out, nil
}

func parseKVReader(r io.Reader, lookup func(string) (string, bool)) ([]string, error) {
	lines := []string{}
	scanner := bufio.NewScanner(r)
	utf8bom := []byte{0xEF, 0xBB, 0xBF}
	for currentLine := 1; scanner.Scan(); currentLine++ {
		scanned := scanner.Bytes()
		if !utf8.Valid(scanned) {
			return []string{}, fmt.Errorf("invalid utf8 bytes at line %d: %v", currentLine, scanned)
		}
		if currentLine == 1 {
			scanned = bytes.TrimPrefix(scanned, utf8bom)
		}
		// Leading whitespace goes; trailing whitespace is part of the value.
		line := strings.TrimLeftFunc(string(scanned), unicode.IsSpace)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, _, hasValue := strings.Cut(line, "=")
		if len(key) == 0 {
			return []string{}, fmt.Errorf("no variable name on line '%s'", line)
		}
		if strings.ContainsAny(key, whiteSpaces) {
			return []string{}, fmt.Errorf("variable '%s' contains whitespaces", key)
		}
		if hasValue {
			lines = append(lines, line)
			continue
		}
		if lookup != nil {
			if value, found := lookup(line); found {
				lines = append(lines, key+"="+value)
			}
		}
	}
	return lines, scanner.Err()
}

// convertKVStringsToMap turns ["k=v"] into {"k": "v"}.
func convertKVStringsToMap(values []string) map[string]string {
	result := make(map[string]string, len(values))
	for _, value := range values {
		k, v, _ := strings.Cut(value, "=")
		result[k] = v
	}
	return result
}
