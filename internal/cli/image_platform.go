package cli

import (
	"fmt"
	"runtime"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// parsePlatform reads "os[/arch[/variant]]" (or a bare architecture) with
// the usual aliases (x86_64, aarch64), like containerd's platforms.Parse.
func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if s == "" || len(parts) > 3 {
		return ocispec.Platform{}, fmt.Errorf("%q: unknown operating system or architecture: invalid argument", s)
	}
	for _, p := range parts {
		if p == "" {
			return ocispec.Platform{}, fmt.Errorf("%q: unknown operating system or architecture: invalid argument", s)
		}
	}
	var p ocispec.Platform
	switch len(parts) {
	case 1:
		if arch, variant, ok := normalizeArch(parts[0], ""); ok {
			p = ocispec.Platform{OS: runtime.GOOS, Architecture: arch, Variant: variant}
		} else {
			p = ocispec.Platform{OS: parts[0], Architecture: runtime.GOARCH}
		}
	case 2:
		arch, variant, _ := normalizeArch(parts[1], "")
		p = ocispec.Platform{OS: parts[0], Architecture: arch, Variant: variant}
	case 3:
		arch, variant, _ := normalizeArch(parts[1], parts[2])
		p = ocispec.Platform{OS: parts[0], Architecture: arch, Variant: variant}
	}
	if p.OS == "macos" {
		p.OS = "darwin"
	}
	return p, nil
}

// parsePlatforms is an optional --platform as the list the API client
// takes: empty when the flag was not given.
func parsePlatforms(s string) ([]ocispec.Platform, error) {
	if s == "" {
		return nil, nil
	}
	p, err := parsePlatform(s)
	if err != nil {
		return nil, err
	}
	return []ocispec.Platform{p}, nil
}

func normalizeArch(arch, variant string) (string, string, bool) {
	switch arch {
	case "i386", "386":
		return "386", "", true
	case "x86_64", "x86-64", "amd64":
		if variant == "v1" {
			variant = ""
		}
		return "amd64", variant, true
	case "aarch64", "arm64":
		if variant == "8" || variant == "v8" {
			variant = ""
		}
		return "arm64", variant, true
	case "armhf":
		return "arm", "v7", true
	case "armel":
		return "arm", "v6", true
	case "arm":
		switch variant {
		case "", "7":
			variant = "v7"
		case "5", "6", "8":
			variant = "v" + variant
		}
		return "arm", variant, true
	case "ppc64le", "s390x", "riscv64", "mips64le", "loong64":
		return arch, variant, true
	}
	return arch, variant, false
}
