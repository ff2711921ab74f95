package cli

// addInspectionCommands adds ps, logs, top, port, inspect, events.
func addInspectionCommands(c *CLI, g commandGroups) {}
