package cli

// addSystemCommands adds version, info and the "system" group.
func addSystemCommands(c *CLI, g commandGroups) {
	g.root.AddCommand(newVersionCommand(c), newInfoCommand(c))
	g.system.AddCommand(newInfoCommand(c))
}
