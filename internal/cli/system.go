package cli

// addSystemCommands adds version, info, the "system" group (info, df,
// prune) and the commands that read a container's filesystem.
func addSystemCommands(c *CLI, g commandGroups) {
	g.root.AddCommand(newVersionCommand(c), newInfoCommand(c))
	g.system.AddCommand(newInfoCommand(c), newDiskUsageCommand(c), newSystemPruneCommand(c))
	g.container.AddCommand(newContainerPruneCommand(c))
	addContainerFilesCommands(c, g)
}
