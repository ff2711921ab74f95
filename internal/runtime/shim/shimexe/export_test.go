package shimexe

// PrepareFrom is Prepare reading the berth binary at exe instead of this
// test binary, which carries no shim program.
var PrepareFrom = prepareFrom

// Unload forgets what Prepare loaded: shims start from this executable
// again, and shims already started from the memfd run on without it.
func Unload() {
	loaded.Lock()
	defer loaded.Unlock()
	if loaded.memfd != nil {
		loaded.memfd.Close()
	}
	loaded.memfd, loaded.path, loaded.argv0 = nil, "", ""
}
