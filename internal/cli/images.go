package cli

// addImageCommands adds images, import, load, save, tag, rmi, history and
// the "image" group.
func addImageCommands(c *CLI, g commandGroups) {}
