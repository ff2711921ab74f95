package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// Version is berth's version, the same as the daemon's; GitCommit is
// the build, set with -ldflags "-X .../internal/cli.GitCommit=..." by
// release builds.
var (
	Version   = "28.3.0"
	GitCommit = "berth"
	// PlatformName heads the Client section of "version" and "info",
	// where docker's official builds print "Docker Engine - Community".
	PlatformName = "berth"
)

// buildTime is when the binary's commit was made, from Go's VCS stamp.
func buildTime() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				return s.Value
			}
		}
	}
	return ""
}

// The version template is docker's.
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

type versionInfo struct {
	Client clientVersion
	Server *serverVersion
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

// serverVersion has the field order of docker 28's JSON output.
type serverVersion struct {
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

func newClientVersion(apiVersion string) clientVersion {
	v := clientVersion{
		Version:           Version,
		APIVersion:        apiVersion,
		DefaultAPIVersion: client.MaxAPIVersion,
		GoVersion:         runtime.Version(),
		GitCommit:         GitCommit,
		BuildTime:         reformatDate(buildTime()),
		Os:                runtime.GOOS,
		Arch:              runtime.GOARCH,
		Context:           "default",
	}
	if PlatformName != "" {
		v.Platform = &platformInfo{Name: PlatformName}
	}
	return v
}

func newServerVersion(sv client.ServerVersionResult) *serverVersion {
	out := &serverVersion{
		Version:       sv.Version,
		APIVersion:    sv.APIVersion,
		MinAPIVersion: sv.MinAPIVersion,
		Os:            sv.Os,
		Arch:          sv.Arch,
		Experimental:  sv.Experimental, //nolint:staticcheck // still reported by older daemons
	}
	out.Platform.Name = sv.Platform.Name
	foundEngine := false
	for _, component := range sv.Components {
		if component.Name == "Engine" {
			foundEngine = true
			bt := component.Details["BuildTime"]
			if bt != "" {
				component.Details["BuildTime"] = reformatDate(bt)
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
		out.Components = append(out.Components, system.ComponentVersion{
			Name:    "Engine",
			Version: sv.Version,
			Details: map[string]string{
				"ApiVersion":    sv.APIVersion,
				"MinAPIVersion": sv.MinAPIVersion,
				"Os":            sv.Os,
				"Arch":          sv.Arch,
			},
		})
	}
	return out
}

// reformatDate shows an RFC 3339 build time as docker does ("Fri May 30 12:07:14 2025").
func reformatDate(s string) string {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.Format(time.ANSIC)
	}
	return s
}

func newVersionCommand(c *CLI) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the berth version information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tmpl, err := newVersionTemplate(format)
			if err != nil {
				return StatusError{StatusCode: 64, Status: err.Error()}
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			sv, err := cl.ServerVersion(cmd.Context(), client.ServerVersionOptions{})
			// The client's API version is known once a request negotiated it.
			vd := versionInfo{Client: newClientVersion(cl.ClientVersion())}
			if err == nil {
				vd.Server = newServerVersion(sv)
			}
			t := tabwriter.NewWriter(c.Out, 20, 1, 1, ' ', 0)
			err2 := tmpl.Execute(t, vd)
			_, _ = t.Write([]byte("\n"))
			_ = t.Flush()
			if err == nil {
				err = err2
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	return cmd
}

func newVersionTemplate(format string) (*template.Template, error) {
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

func detailsOrder(v system.ComponentVersion) []string {
	out := make([]string, 0, len(v.Details))
	for k := range v.Details {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
