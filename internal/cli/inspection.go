package cli

// addInspectionCommands adds ps, logs, top, port, inspect, events, stats.
func addInspectionCommands(c *CLI, g commandGroups) {
	g.root.AddCommand(newPsCommand(c), newLogsCommand(c), newTopCommand(c), newPortCommand(c), newInspectCommand(c))
	g.container.AddCommand(newContainerListCommand(c), newLogsCommand(c), newTopCommand(c), newPortCommand(c), newContainerInspectCommand(c))
	g.root.AddCommand(newEventsCommand(c))
	g.system.AddCommand(newEventsCommand(c))
	g.root.AddCommand(newStatsCommand(c))
	g.container.AddCommand(newStatsCommand(c))
}
