package cli

// addContainerLifecycleCommands adds run, create, start, attach, exec,
// wait, stop, restart, kill, rm, pause, unpause, update, rename.
func addContainerLifecycleCommands(c *CLI, g commandGroups) {}
