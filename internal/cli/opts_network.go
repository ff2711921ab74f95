package cli

// --network, simple ("bridge") or advanced ("name=n,alias=a,ip=...")
// syntax, after the docker CLI's opts.NetworkOpt (Apache-2.0).

import (
	"encoding/csv"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// networkAttachment is one --network value.
type networkAttachment struct {
	Target       string
	Aliases      []string
	DriverOpts   map[string]string
	Links        []string
	IPv4Address  string
	IPv6Address  string
	LinkLocalIPs []string
	MacAddress   string
	GwPriority   int
}

type networkOpt struct {
	options []networkAttachment
}

var networkLongSyntax = regexp.MustCompile(`\w+=\w+(,\w+=\w+)*`)

func (n *networkOpt) Set(value string) error {
	var netOpt networkAttachment
	if !networkLongSyntax.MatchString(value) {
		netOpt.Target = value
		n.options = append(n.options, netOpt)
		return nil
	}
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return err
	}
	netOpt.Aliases = []string{}
	for _, field := range fields {
		// docker lower-cases the whole field, values included.
		key, val, ok := strings.Cut(strings.ToLower(field), "=")
		if !ok || key == "" {
			return fmt.Errorf("invalid field %s", field)
		}
		key = strings.TrimSpace(key)
		val = strings.TrimSpace(val)
		switch key {
		case "name":
			netOpt.Target = val
		case "alias":
			netOpt.Aliases = append(netOpt.Aliases, val)
		case "ip":
			netOpt.IPv4Address = val
		case "ip6":
			netOpt.IPv6Address = val
		case "mac-address":
			netOpt.MacAddress = val
		case "link-local-ip":
			netOpt.LinkLocalIPs = append(netOpt.LinkLocalIPs, val)
		case "driver-opt":
			k, v, ok := strings.Cut(val, "=")
			if !ok || k == "" {
				return errors.New("invalid key value pair format in driver options")
			}
			if netOpt.DriverOpts == nil {
				netOpt.DriverOpts = map[string]string{}
			}
			netOpt.DriverOpts[strings.TrimSpace(k)] = strings.TrimSpace(v)
		case "gw-priority":
			netOpt.GwPriority, err = strconv.Atoi(val)
			if err != nil {
				var numErr *strconv.NumError
				if errors.As(err, &numErr) {
					err = numErr.Err
				}
				return fmt.Errorf("invalid gw-priority (%s): %w", val, err)
			}
		default:
			return errors.New("invalid field key " + key)
		}
	}
	if netOpt.Target == "" {
		return errors.New("network name/id is not specified")
	}
	n.options = append(n.options, netOpt)
	return nil
}

func (*networkOpt) Type() string                 { return "network" }
func (*networkOpt) String() string               { return "" }
func (n *networkOpt) Value() []networkAttachment { return n.options }

// NetworkMode is the first network, or "default".
func (n *networkOpt) NetworkMode() string {
	if len(n.options) > 0 {
		return n.options[0].Target
	}
	return "default"
}
