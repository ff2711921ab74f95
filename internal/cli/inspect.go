package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/template"

	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// inspectObjectTypes are --type's values, in docker's order of lookup
// when no type is given.
var inspectObjectTypes = []string{"config", "container", "image", "network", "node", "plugin", "secret", "service", "task", "volume"}

type inspectOptions struct {
	format     string
	objectType string
	size       bool
}

func newInspectCommand(c *CLI) *cobra.Command {
	var opts inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on Docker objects",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			known := false
			for _, t := range inspectObjectTypes {
				known = known || t == opts.objectType
			}
			if opts.objectType != "" && !known {
				return fmt.Errorf(`unknown type: %q: must be one of "%s"`, opts.objectType, strings.Join(inspectObjectTypes, `", "`))
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			return inspectAll(c.Out, args, opts.format, objectLookup(cmd, c, cl, opts))
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.format, "format", "f", "", inspectFormatHelp)
	flags.StringVar(&opts.objectType, "type", "", "Only inspect objects of the given type")
	flags.BoolVarP(&opts.size, "size", "s", false, "Display total file sizes if the type is container")
	return cmd
}

func newContainerInspectCommand(c *CLI) *cobra.Command {
	var opts inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			return inspectAll(c.Out, args, opts.format, inspectContainer(cmd, cl, opts.size))
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.format, "format", "f", "", inspectFormatHelp)
	flags.BoolVarP(&opts.size, "size", "s", false, "Display total file sizes")
	return cmd
}

// inspectFunc finds one object: its typed value for templates, and the
// daemon's JSON, printed as is and used when a template needs a field the
// typed value lacks.
type inspectFunc func(ref string) (typed any, raw []byte, err error)

func inspectContainer(cmd *cobra.Command, cl *client.Client, size bool) inspectFunc {
	return func(ref string) (any, []byte, error) {
		res, err := cl.ContainerInspect(cmd.Context(), ref, client.ContainerInspectOptions{Size: size})
		if err != nil {
			return nil, nil, err
		}
		return &res.Container, res.Raw, nil
	}
}

func inspectImage(cmd *cobra.Command, cl *client.Client, opts ...client.ImageInspectOption) inspectFunc {
	return func(ref string) (any, []byte, error) {
		var buf bytes.Buffer
		res, err := cl.ImageInspect(cmd.Context(), ref, append(opts, client.ImageInspectWithRawResponse(&buf))...)
		if err != nil {
			return nil, nil, err
		}
		return &res.InspectResponse, buf.Bytes(), nil
	}
}

func inspectNetwork(cmd *cobra.Command, cl *client.Client, verbose bool) inspectFunc {
	return func(ref string) (any, []byte, error) {
		res, err := cl.NetworkInspect(cmd.Context(), ref, client.NetworkInspectOptions{Verbose: verbose})
		return &res.Network, res.Raw, err
	}
}

func inspectVolume(cmd *cobra.Command, cl *client.Client) inspectFunc {
	return func(ref string) (any, []byte, error) {
		res, err := cl.VolumeInspect(cmd.Context(), ref, client.VolumeInspectOptions{})
		return &res.Volume, res.Raw, err
	}
}

// objectLookup is "inspect" without a container or image constraint: each
// kind of object in turn, skipping kinds that do not know the name, and
// swarm kinds unless the daemon is a swarm manager.
func objectLookup(cmd *cobra.Command, c *CLI, cl *client.Client, opts inspectOptions) inspectFunc {
	ctx := cmd.Context()
	type kind struct {
		name   string
		sizeOK bool
		swarm  bool
		lookup inspectFunc
	}
	kinds := []kind{
		{name: "container", sizeOK: true, lookup: inspectContainer(cmd, cl, opts.size)},
		{name: "image", lookup: inspectImage(cmd, cl)},
		{name: "network", lookup: inspectNetwork(cmd, cl, false)},
		{name: "volume", lookup: inspectVolume(cmd, cl)},
		{name: "service", swarm: true, lookup: func(ref string) (any, []byte, error) {
			res, err := cl.ServiceInspect(ctx, ref, client.ServiceInspectOptions{InsertDefaults: true})
			return &res.Service, res.Raw, err
		}},
		{name: "task", swarm: true, lookup: func(ref string) (any, []byte, error) {
			res, err := cl.TaskInspect(ctx, ref, client.TaskInspectOptions{})
			return &res.Task, res.Raw, err
		}},
		{name: "node", swarm: true, lookup: func(ref string) (any, []byte, error) {
			res, err := cl.NodeInspect(ctx, ref, client.NodeInspectOptions{})
			return &res.Node, res.Raw, err
		}},
		{name: "plugin", lookup: func(ref string) (any, []byte, error) {
			res, err := cl.PluginInspect(ctx, ref, client.PluginInspectOptions{})
			return res.Plugin, res.Raw, err
		}},
		{name: "secret", swarm: true, lookup: func(ref string) (any, []byte, error) {
			res, err := cl.SecretInspect(ctx, ref, client.SecretInspectOptions{})
			return &res.Secret, res.Raw, err
		}},
		{name: "config", swarm: true, lookup: func(ref string) (any, []byte, error) {
			res, err := cl.ConfigInspect(ctx, ref, client.ConfigInspectOptions{})
			return &res.Config, res.Raw, err
		}},
	}
	swarmManager := -1 // unknown until a swarm kind is reached
	isSwarmManager := func() bool {
		if swarmManager < 0 {
			swarmManager = 0
			res, err := cl.Info(ctx, client.InfoOptions{})
			if err != nil {
				fmt.Fprintln(c.Err, err)
			} else if res.Info.Swarm.ControlAvailable {
				swarmManager = 1
			}
		}
		return swarmManager == 1
	}
	return func(ref string) (any, []byte, error) {
		for _, k := range kinds {
			if opts.objectType != "" && k.name != opts.objectType {
				continue
			}
			if opts.objectType == "" && k.swarm && !isSwarmManager() {
				continue
			}
			v, raw, err := k.lookup(ref)
			if err != nil {
				if opts.objectType == "" && isSkippable(err) {
					continue
				}
				return v, raw, err
			}
			if opts.size && !k.sizeOK {
				fmt.Fprintln(c.Err, "WARNING: --size ignored for", k.name)
			}
			return v, raw, nil
		}
		return nil, nil, fmt.Errorf("Error: No such object: %s", ref) //nolint:staticcheck // docker's wording
	}
}

func isSkippable(err error) bool {
	return errdefs.IsNotFound(err) ||
		strings.Contains(err.Error(), "not supported") ||
		strings.Contains(err.Error(), "invalid reference format")
}

// inspectAll prints every object found, then the errors for the others.
// Without a format the output is the daemon's JSON as a 4-space indented
// array; "json" prints it compact; a template is run on each object.
func inspectAll(out io.Writer, refs []string, format string, lookup inspectFunc) error {
	var ins inspector
	switch format {
	case "":
		ins = &jsonInspector{indent: true}
	case "json":
		ins = &jsonInspector{}
	default:
		tmpl, err := parseInspectTemplate(format)
		if err != nil {
			return StatusError{StatusCode: 64, Status: "template parsing error: " + err.Error()}
		}
		ins = &templateInspector{tmpl: tmpl}
	}
	var errs []string
	for _, ref := range refs {
		typed, raw, err := lookup(ref)
		if err == nil {
			err = ins.inspect(typed, raw)
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := ins.flush(out); err != nil {
		return err
	}
	if len(errs) > 0 {
		return StatusError{StatusCode: 1, Status: strings.Join(errs, "\n")}
	}
	return nil
}

func parseInspectTemplate(format string) (*template.Template, error) {
	return formatter.ParseTemplate(format)
}

type inspector interface {
	inspect(typed any, raw []byte) error
	flush(out io.Writer) error
}

type templateInspector struct {
	tmpl *template.Template
	buf  bytes.Buffer
}

func (i *templateInspector) flush(out io.Writer) error {
	if i.buf.Len() == 0 {
		_, err := io.WriteString(out, "\n")
		return err
	}
	_, err := i.buf.WriteTo(out)
	return err
}

type jsonInspector struct {
	indent   bool
	elements []any
	raws     [][]byte
}

func (j *jsonInspector) inspect(typed any, raw []byte) error {
	if raw != nil {
		j.raws = append(j.raws, raw)
	} else {
		j.elements = append(j.elements, typed)
	}
	return nil
}

func (j *jsonInspector) flush(out io.Writer) error {
	if len(j.elements) == 0 && len(j.raws) == 0 {
		_, err := io.WriteString(out, "[]\n")
		return err
	}
	var b []byte
	if len(j.raws) > 0 {
		var arr bytes.Buffer
		arr.WriteByte('[')
		arr.Write(bytes.Join(j.raws, []byte(",")))
		arr.WriteByte(']')
		var dst bytes.Buffer
		var err error
		if j.indent {
			err = json.Indent(&dst, arr.Bytes(), "", "    ")
		} else {
			err = json.Compact(&dst, arr.Bytes())
		}
		if err != nil {
			return err
		}
		b = dst.Bytes()
	} else {
		var err error
		if j.indent {
			b, err = json.MarshalIndent(j.elements, "", "    ")
		} else {
			b, err = json.Marshal(j.elements)
		}
		if err != nil {
			return err
		}
	}
	if _, err := out.Write(b); err != nil {
		return err
	}
	_, err := io.WriteString(out, "\n")
	return err
}
