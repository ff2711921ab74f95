package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/moby/term"
	"github.com/spf13/cobra"
)

// setupHelp gives the command tree docker's help and usage layout:
// "Usage:  berth ps [OPTIONS]", Aliases, Options, and for the root the
// Common, Management and other command sections and Global Options.
func setupHelp(root *cobra.Command) {
	cobra.AddTemplateFunc("add", func(a, b int) int { return a + b })
	cobra.AddTemplateFunc("hasAliases", func(cmd *cobra.Command) bool {
		return len(cmd.Aliases) > 0 || cmd.Annotations["aliases"] != ""
	})
	cobra.AddTemplateFunc("commandAliases", commandAliases)
	cobra.AddTemplateFunc("hasSubCommands", func(cmd *cobra.Command) bool { return len(operationSubCommands(cmd)) > 0 })
	cobra.AddTemplateFunc("operationSubCommands", operationSubCommands)
	cobra.AddTemplateFunc("hasManagementSubCommands", func(cmd *cobra.Command) bool { return len(managementSubCommands(cmd)) > 0 })
	cobra.AddTemplateFunc("managementSubCommands", managementSubCommands)
	cobra.AddTemplateFunc("hasTopCommands", func(cmd *cobra.Command) bool { return len(topCommands(cmd)) > 0 })
	cobra.AddTemplateFunc("topCommands", topCommands)
	cobra.AddTemplateFunc("wrappedFlagUsages", wrappedFlagUsages)

	root.SetUsageTemplate(usageTemplate)
	root.SetHelpTemplate(helpTemplate)
	root.SetHelpCommand(helpCommand)
	root.PersistentFlags().BoolP("help", "h", false, "Print usage")
	_ = root.PersistentFlags().MarkShorthandDeprecated("help", "use --help")
	root.PersistentFlags().Lookup("help").Hidden = true
}

var helpCommand = &cobra.Command{
	Use:               "help [command]",
	Short:             "Help about the command",
	PersistentPreRun:  func(*cobra.Command, []string) {},
	PersistentPostRun: func(*cobra.Command, []string) {},
	RunE: func(c *cobra.Command, args []string) error {
		cmd, rest, err := c.Root().Find(args)
		if cmd == nil || err != nil || len(rest) > 0 {
			return fmt.Errorf("unknown help topic: %v", strings.Join(args, " "))
		}
		cmd.HelpFunc()(cmd, rest)
		return nil
	},
}

func commandAliases(cmd *cobra.Command) string {
	if a := cmd.Annotations["aliases"]; a != "" {
		return a
	}
	var parentPath string
	if cmd.HasParent() {
		parentPath = cmd.Parent().CommandPath() + " "
	}
	var b strings.Builder
	b.WriteString(cmd.CommandPath())
	for _, alias := range cmd.Aliases {
		b.WriteString(", " + parentPath + alias)
	}
	return b.String()
}

func topCommands(cmd *cobra.Command) []*cobra.Command {
	var cmds []*cobra.Command
	if cmd.HasParent() {
		return nil
	}
	for _, sub := range cmd.Commands() {
		if _, ok := sub.Annotations["category-top"]; ok && sub.IsAvailableCommand() {
			cmds = append(cmds, sub)
		}
	}
	sort.SliceStable(cmds, func(i, j int) bool {
		return cmds[i].Annotations["category-top"] < cmds[j].Annotations["category-top"]
	})
	return cmds
}

func operationSubCommands(cmd *cobra.Command) []*cobra.Command {
	var cmds []*cobra.Command
	for _, sub := range cmd.Commands() {
		if _, ok := sub.Annotations["category-top"]; ok && !cmd.HasParent() {
			continue
		}
		if sub.IsAvailableCommand() && !sub.HasSubCommands() {
			cmds = append(cmds, sub)
		}
	}
	return cmds
}

func managementSubCommands(cmd *cobra.Command) []*cobra.Command {
	var cmds []*cobra.Command
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() && sub.HasSubCommands() {
			cmds = append(cmds, sub)
		}
	}
	return cmds
}

func wrappedFlagUsages(cmd *cobra.Command) string {
	width := 80
	if ws, err := term.GetWinsize(0); err == nil && ws.Width > 0 {
		width = int(ws.Width)
	}
	return cmd.Flags().FlagUsagesWrapped(width - 1)
}

const usageTemplate = `Usage:

{{- if not .HasSubCommands}}  {{.UseLine}}{{end}}
{{- if .HasSubCommands}}  {{ .CommandPath}}{{- if .HasAvailableFlags}} [OPTIONS]{{end}} COMMAND{{end}}

{{if ne .Long ""}}{{ .Long | trim }}{{ else }}{{ .Short | trim }}{{end}}
{{- if hasAliases . }}

Aliases:
  {{ commandAliases . }}

{{- end}}
{{- if .HasExample}}

Examples:
{{ .Example }}

{{- end}}
{{- if .HasParent}}
{{- if .HasAvailableFlags}}

Options:
{{ wrappedFlagUsages . | trimRightSpace}}

{{- end}}
{{- end}}
{{- if hasTopCommands .}}

Common Commands:
{{- range topCommands .}}
  {{rpad .Name (add .NamePadding 1)}}{{.Short}}
{{- end}}
{{- end}}
{{- if hasManagementSubCommands . }}

Management Commands:

{{- range managementSubCommands . }}
  {{rpad .Name (add .NamePadding 1)}}{{.Short}}
{{- end}}

{{- end}}
{{- if hasSubCommands .}}

Commands:

{{- range operationSubCommands . }}
  {{rpad .Name .NamePadding }} {{.Short}}
{{- end}}
{{- end}}
{{- if not .HasParent}}
{{- if .HasAvailableFlags}}

Global Options:
{{ wrappedFlagUsages . | trimRightSpace}}

{{- end}}
{{- end}}

{{- if .HasSubCommands }}

Run '{{.CommandPath}} COMMAND --help' for more information on a command.
{{- end}}
`

const helpTemplate = `
{{- if or .Runnable .HasSubCommands}}{{.UsageString}}{{end}}`
