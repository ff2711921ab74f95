// Package httputils holds what every router shares: the handler signature,
// the one mapping from error classes to HTTP status, JSON and form helpers,
// API version negotiation and connection hijacking.
package httputils
