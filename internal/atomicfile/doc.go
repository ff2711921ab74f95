// Package atomicfile replaces files atomically, the way berth's stores
// write their records: a temporary file in the same directory, renamed
// over the old one, so that a reader (or a daemon restarting after a
// crash) finds the old content or the new, never a part.
package atomicfile
