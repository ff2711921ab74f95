package system

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/berth-dev/berth/internal/cli/formatter/types"
	apisystem "github.com/moby/moby/api/types/system"
)

// ClientVersion describes the client for "version" and "info".
type ClientVersion struct {
	PlatformName      string
	Version           string
	APIVersion        string
	DefaultAPIVersion string
	GitCommit         string
	GoVersion         string
	Os                string
	Arch              string
	BuildTime         string // RFC 3339, shown as docker shows it
	Context           string
}

type platformInfo struct {
	Name string `json:"Name,omitempty"`
}

type clientVersion struct {
	Platform          *platformInfo `json:"Platform,omitempty"`
	Version           string        `json:"Version,omitempty"`
	APIVersion        string        `json:"ApiVersion,omitempty"`
	DefaultAPIVersion string        `json:"DefaultAPIVersion,omitempty"`
	GitCommit         string        `json:"GitCommit,omitempty"`
	GoVersion         string        `json:"GoVersion,omitempty"`
	Os                string        `json:"Os,omitempty"`
	Arch              string        `json:"Arch,omitempty"`
	BuildTime         string        `json:"BuildTime,omitempty"`
	Context           string        `json:"Context"`
}

func newClientVersion(c ClientVersion) clientVersion {
	v := clientVersion{
		Version:           c.Version,
		APIVersion:        c.APIVersion,
		DefaultAPIVersion: c.DefaultAPIVersion,
		GitCommit:         c.GitCommit,
		GoVersion:         c.GoVersion,
		Os:                c.Os,
		Arch:              c.Arch,
		BuildTime:         ReformatDate(c.BuildTime),
		Context:           c.Context,
	}
	if c.PlatformName != "" {
		v.Platform = &platformInfo{Name: c.PlatformName}
	}
	return v
}

type versionInfo struct {
	Client clientVersion
	Server *types.Version
}

// ServerVersion is the daemon's answer to /version as docker 28 keeps it:
// the Engine component's build time reformatted, and an Engine component
// made up when the daemon lists none.
func ServerVersion(v apisystem.VersionResponse) *types.Version {
	out := &types.Version{
		Version:       v.Version,
		APIVersion:    v.APIVersion,
		MinAPIVersion: v.MinAPIVersion,
		Os:            v.Os,
		Arch:          v.Arch,
		Experimental:  v.Experimental, //nolint:staticcheck // still sent by older daemons
	}
	out.Platform.Name = v.Platform.Name
	foundEngine := false
	for _, component := range v.Components {
		if component.Name == "Engine" {
			foundEngine = true
			bt := component.Details["BuildTime"]
			if bt != "" {
				component.Details["BuildTime"] = ReformatDate(bt)
			}
			out.GitCommit = component.Details["GitCommit"]
			out.GoVersion = component.Details["GoVersion"]
			out.KernelVersion = component.Details["KernelVersion"]
			out.Experimental = component.Details["Experimental"] == "true"
			out.BuildTime = bt
		}
		out.Components = append(out.Components, component)
	}
	if !foundEngine {
		out.Components = append(out.Components, apisystem.ComponentVersion{
			Name:    "Engine",
			Version: v.Version,
			Details: map[string]string{
				"ApiVersion":    v.APIVersion,
				"MinAPIVersion": v.MinAPIVersion,
				"Os":            v.Os,
				"Arch":          v.Arch,
			},
		})
	}
	return out
}

// ReformatDate shows an RFC 3339 time as docker shows build times
// ("Fri May 30 12:07:14 2025"); anything else is returned as is.
func ReformatDate(s string) string {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.Format(time.ANSIC)
	}
	return s
}

const defaultVersionTemplate = `{{with .Client -}}
Client:{{if ne .Platform nil}}{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}{{end}}
 Version:	{{.Version}}
 API version:	{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Go version:	{{.GoVersion}}
 Git commit:	{{.GitCommit}}
 Built:	{{.BuildTime}}
 OS/Arch:	{{.Os}}/{{.Arch}}
 Context:	{{.Context}}
{{- end}}

{{- if ne .Server nil}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:	{{.Version}}
  API version:	{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:	{{index .Details "GoVersion"}}
  Git commit:	{{index .Details "GitCommit"}}
  Built:	{{index .Details "BuildTime"}}
  OS/Arch:	{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:	{{index .Details "Experimental"}}
  {{- else }}
  Version:	{{$component.Version}}
  {{- $detailsOrder := getDetailsOrder $component}}
  {{- range $key := $detailsOrder}}
  {{$key}}:	{{index $component.Details $key}}
   {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}{{- end}}`

// NewVersionTemplate parses --format for "version" ("" is docker's report).
func NewVersionTemplate(format string) (*template.Template, error) {
	switch format {
	case "":
		format = defaultVersionTemplate
	case formatter.JSONFormatKey:
		format = formatter.JSONFormat
	}
	tmpl, err := formatter.NewTemplate("version").Funcs(template.FuncMap{"getDetailsOrder": detailsOrder}).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return tmpl, nil
}

// WriteVersion renders the client and, if known, the server version.
func WriteVersion(out io.Writer, tmpl *template.Template, c ClientVersion, server *types.Version) error {
	t := tabwriter.NewWriter(out, 20, 1, 1, ' ', 0)
	err := tmpl.Execute(t, versionInfo{Client: newClientVersion(c), Server: server})
	_, _ = t.Write([]byte("\n"))
	_ = t.Flush()
	return err
}

func detailsOrder(v apisystem.ComponentVersion) []string {
	out := make([]string, 0, len(v.Details))
	for k := range v.Details {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
