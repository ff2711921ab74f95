// Package volumerouter serves the volume endpoints of the Engine API:
// GET /volumes, GET /volumes/{name}, POST /volumes/create,
// DELETE /volumes/{name} and POST /volumes/prune. Version quirks (what
// prune removes by default) live here.
package volumerouter
