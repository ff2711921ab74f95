// Package formatter renders berth's list and table output exactly as the
// docker CLI does: the same --format template language (table, json and the
// custom functions join, split, upper, lower, title, pad, truncate), the same
// columns, headers, widths and human units. It knows nothing about cobra or
// the API client; commands hand it API types and an io.Writer.
//
// The rendering rules are those of github.com/docker/cli's formatter and
// templates packages (Apache-2.0), rewritten here so that berth does not
// depend on the docker CLI module.
package formatter
