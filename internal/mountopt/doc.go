// Package mountopt reads mount(8) options, as the layer store's overlay
// and bind mounts and the local volume driver's "o" option give them:
// which become mount(2) flags and which go to the filesystem as data.
package mountopt
