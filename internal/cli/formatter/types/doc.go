// Package types holds the daemon version as docker 28's CLI types it, so
// that "version --format" prints, and names in its errors, what docker's does.
package types
