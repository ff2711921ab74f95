package cli

// Device, block-IO, GPU and ulimit flags, after the docker CLI (Apache-2.0).

import (
	"encoding/csv"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
)

// weightDeviceOpt is --blkio-weight-device /dev/sda:300.
type weightDeviceOpt struct {
	values []*blkiodev.WeightDevice
}

func (o *weightDeviceOpt) Set(val string) error {
	k, v, ok := strings.Cut(val, ":")
	if !ok || k == "" {
		return fmt.Errorf("bad format: %s", val)
	}
	if !strings.HasPrefix(k, "/dev/") {
		return fmt.Errorf("bad format for device path: %s", val)
	}
	weight, err := strconv.ParseUint(v, 10, 16)
	if err != nil || (weight > 0 && (weight < 10 || weight > 1000)) {
		return fmt.Errorf("invalid weight for device: %s", val)
	}
	o.values = append(o.values, &blkiodev.WeightDevice{Path: k, Weight: uint16(weight)})
	return nil
}

func (o *weightDeviceOpt) String() string {
	out := make([]string, 0, len(o.values))
	for _, v := range o.values {
		out = append(out, v.String())
	}
	return fmt.Sprintf("%v", out)
}

func (*weightDeviceOpt) Type() string { return "list" }

func (o *weightDeviceOpt) GetList() []*blkiodev.WeightDevice {
	if o.values == nil {
		return []*blkiodev.WeightDevice{}
	}
	return o.values
}

// throttleDeviceOpt is --device-{read,write}-{bps,iops} /dev/sda:10mb.
type throttleDeviceOpt struct {
	values []*blkiodev.ThrottleDevice
	bps    bool // rates with units (bps) or plain counts (iops)
}

func (o *throttleDeviceOpt) Set(val string) error {
	k, v, ok := strings.Cut(val, ":")
	if !ok || k == "" {
		return fmt.Errorf("bad format: %s", val)
	}
	if !strings.HasPrefix(k, "/dev/") {
		return fmt.Errorf("bad format for device path: %s", val)
	}
	var rate uint64
	if o.bps {
		r, err := units.RAMInBytes(v)
		if err != nil || r < 0 {
			return fmt.Errorf("invalid rate for device: %s. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb", val)
		}
		rate = uint64(r)
	} else {
		r, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid rate for device: %s. The correct format is <device-path>:<number>. Number must be a positive integer", val)
		}
		rate = r
	}
	o.values = append(o.values, &blkiodev.ThrottleDevice{Path: k, Rate: rate})
	return nil
}

func (o *throttleDeviceOpt) String() string {
	out := make([]string, 0, len(o.values))
	for _, v := range o.values {
		out = append(out, v.String())
	}
	return fmt.Sprintf("%v", out)
}

func (*throttleDeviceOpt) Type() string { return "list" }

func (o *throttleDeviceOpt) GetList() []*blkiodev.ThrottleDevice {
	out := make([]*blkiodev.ThrottleDevice, len(o.values))
	copy(out, o.values)
	return out
}

// ulimitOpt is --ulimit nofile=1024:2048; one entry per name, sorted.
type ulimitOpt struct {
	values map[string]*container.Ulimit
}

func newUlimitOpt() *ulimitOpt { return &ulimitOpt{values: map[string]*container.Ulimit{}} }

func (o *ulimitOpt) Set(val string) error {
	l, err := units.ParseUlimit(val)
	if err != nil {
		return err
	}
	o.values[l.Name] = l
	return nil
}

func (o *ulimitOpt) String() string {
	out := make([]string, 0, len(o.values))
	for _, v := range o.values {
		out = append(out, v.String())
	}
	sort.Strings(out)
	return fmt.Sprintf("%v", out)
}

func (*ulimitOpt) Type() string { return "ulimit" }

func (o *ulimitOpt) GetList() []*container.Ulimit {
	ulimits := make([]*container.Ulimit, 0, len(o.values))
	for _, v := range o.values {
		ulimits = append(ulimits, v)
	}
	sort.SliceStable(ulimits, func(i, j int) bool { return ulimits[i].Name < ulimits[j].Name })
	return ulimits
}

// gpuOpts is --gpus all|N|device=...,capabilities=...
type gpuOpts struct {
	values []container.DeviceRequest
}

func parseGPUCount(s string) (int, error) {
	if s == "all" {
		return -1, nil
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		var numErr *strconv.NumError
		if errors.As(err, &numErr) {
			err = numErr.Err
		}
		return 0, fmt.Errorf(`invalid count (%s): value must be either "all" or an integer: %w`, s, err)
	}
	return i, nil
}

func (o *gpuOpts) Set(value string) error {
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return err
	}
	req := container.DeviceRequest{}
	seen := map[string]struct{}{}
	for _, field := range fields {
		key, val, withValue := strings.Cut(field, "=")
		if _, ok := seen[key]; ok {
			return fmt.Errorf("gpu request key '%s' can be specified only once", key)
		}
		seen[key] = struct{}{}
		if !withValue {
			seen["count"] = struct{}{}
			if req.Count, err = parseGPUCount(key); err != nil {
				return err
			}
			continue
		}
		switch key {
		case "driver":
			req.Driver = val
		case "count":
			if req.Count, err = parseGPUCount(val); err != nil {
				return err
			}
		case "device":
			req.DeviceIDs = strings.Split(val, ",")
		case "capabilities":
			req.Capabilities = [][]string{append(strings.Split(val, ","), "gpu")}
		case "options":
			optFields, err := csv.NewReader(strings.NewReader(val)).Read()
			if err != nil {
				return fmt.Errorf("failed to read gpu options: %w", err)
			}
			req.Options = convertKVStringsToMap(optFields)
		default:
			return fmt.Errorf("unexpected key '%s' in '%s'", key, field)
		}
	}
	if _, ok := seen["count"]; !ok && req.DeviceIDs == nil {
		req.Count = 1
	}
	if req.Options == nil {
		req.Options = map[string]string{}
	}
	if req.Capabilities == nil {
		req.Capabilities = [][]string{{"gpu"}}
	}
	o.values = append(o.values, req)
	return nil
}

func (*gpuOpts) Type() string { return "gpu-request" }

func (o *gpuOpts) String() string {
	gpus := make([]string, 0, len(o.values))
	for _, g := range o.values {
		gpus = append(gpus, fmt.Sprintf("%v", g))
	}
	return strings.Join(gpus, ", ")
}

func (o *gpuOpts) Value() []container.DeviceRequest { return o.values }

var deviceCgroupRuleRegexp = regexp.MustCompile(`^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$`)

func validateDeviceCgroupRule(val string) (string, error) {
	if deviceCgroupRuleRegexp.MatchString(val) {
		return val, nil
	}
	return val, fmt.Errorf("invalid device cgroup format '%s'", val)
}

// cdiQualifiedName matches vendor.com/class=name, a CDI device that the
// daemon resolves (tags.cncf.io/container-device-interface parser rules).
var cdiQualifiedName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.-]*[a-zA-Z0-9]/[a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9])?=[a-zA-Z0-9]([a-zA-Z0-9_.:-]*[a-zA-Z0-9])?$`)

func isCDIDeviceName(device string) bool {
	vendor, _, _ := strings.Cut(device, "/")
	return strings.Contains(vendor, ".") && cdiQualifiedName.MatchString(device)
}

// validDeviceMode: a composition of r, w and m, each at most once.
func validDeviceMode(mode string) bool {
	legal := map[rune]bool{'r': true, 'w': true, 'm': true}
	if mode == "" {
		return false
	}
	for _, c := range mode {
		if !legal[c] {
			return false
		}
		legal[c] = false
	}
	return true
}

// validateDevicePath checks [host-dir:]container-path[:mode] for a Linux
// daemon and returns it cleaned.
func validateDevicePath(val string) (string, error) {
	var containerPath, mode string
	if strings.Count(val, ":") > 2 {
		return val, fmt.Errorf("bad format for path: %s", val)
	}
	split := strings.SplitN(val, ":", 3)
	if split[0] == "" {
		return val, fmt.Errorf("bad format for path: %s", val)
	}
	switch len(split) {
	case 1:
		containerPath = split[0]
		val = path.Clean(containerPath)
	case 2:
		if validDeviceMode(split[1]) {
			containerPath = split[0]
			mode = split[1]
			val = fmt.Sprintf("%s:%s", path.Clean(containerPath), mode)
		} else {
			containerPath = split[1]
			val = fmt.Sprintf("%s:%s", split[0], path.Clean(containerPath))
		}
	case 3:
		containerPath = split[1]
		mode = split[2]
		if !validDeviceMode(split[2]) {
			return val, fmt.Errorf("bad mode specified: %s", mode)
		}
		val = fmt.Sprintf("%s:%s:%s", split[0], containerPath, mode)
	}
	if !path.IsAbs(containerPath) {
		return val, fmt.Errorf("%s is not an absolute path", containerPath)
	}
	return val, nil
}

// parseLinuxDevice turns src[:dst][:perms] into a DeviceMapping.
func parseLinuxDevice(device string) (container.DeviceMapping, error) {
	var src, dst string
	permissions := "rwm"
	arr := strings.SplitN(device, ":", 4)
	switch len(arr) {
	case 3:
		permissions = arr[2]
		fallthrough
	case 2:
		if validDeviceMode(arr[1]) {
			permissions = arr[1]
		} else {
			dst = arr[1]
		}
		fallthrough
	case 1:
		src = arr[0]
	default:
		return container.DeviceMapping{}, fmt.Errorf("invalid device specification: %s", device)
	}
	if dst == "" {
		dst = src
	}
	return container.DeviceMapping{PathOnHost: src, PathInContainer: dst, CgroupPermissions: permissions}, nil
}
