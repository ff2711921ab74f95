package types

import "github.com/moby/moby/api/types/system"

// Version is docker 28's types.Version, with its JSON field order.
type Version struct {
	Platform      struct{ Name string }     `json:",omitempty"`
	Components    []system.ComponentVersion `json:",omitempty"`
	Version       string
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:"MinAPIVersion,omitempty"`
	GitCommit     string
	GoVersion     string
	Os            string
	Arch          string
	KernelVersion string `json:",omitempty"`
	Experimental  bool   `json:",omitempty"`
	BuildTime     string `json:",omitempty"`
}
