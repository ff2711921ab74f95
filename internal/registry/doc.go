// Package registry is berth's own private registry server, `berth registry
// serve`: the OCI distribution API from github.com/distribution/distribution/v3
// over filesystem storage, with optional htpasswd basic auth and TLS, deletes
// enabled, plus the Docker Hub v1 search endpoint (/v1/search, /v1/_ping)
// over the catalog so that `docker search <registry>/<term>` works, and the
// offline garbage collector.
//
// It owns no engine state and the daemon does not need it. Tests start it
// in-process with Serve; users run it through the CLI.
//
// distribution logs through logrus' standard logger and offers no way to hand
// it another, so the log level chosen in Config applies process-wide.
package registry
