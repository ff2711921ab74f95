// Package imagerouter serves the image endpoints of the Engine API: the
// store's (list, inspect, history, tag, remove, prune), the archives'
// (import with POST /images/create?fromSrc=, load, save) and the
// registries' (pull with POST /images/create?fromImage=, push, search,
// POST /auth, GET /distribution/{name}/json). Version quirks of the wire
// shapes live here; the image service knows nothing of API versions.
package imagerouter
