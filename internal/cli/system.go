package cli

// addSystemCommands adds version, info and the "system" group.
func addSystemCommands(c *CLI, g commandGroups) {}
