// Package registrytest is for tests of registry clients and servers: it
// runs Debian's docker-registry (distribution 2.8), the independent
// registry that berth's client and berth's own registry are checked
// against (tests skip where it is not installed); pushes images and
// indexes as a third-party client (go-containerregistry) would; and knows
// where distribution's storage layout keeps blobs, for tests that corrupt
// or count them.
package registrytest
