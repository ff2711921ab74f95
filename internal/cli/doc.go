// Package cli is berth's docker-compatible command line. It is a pure API
// client: every command talks to a daemon through github.com/moby/moby/client,
// exactly as third-party tools do. Only this package imports cobra.
package cli
