// Package daemon is the composition root: it builds every service from the
// configuration, wires them together through the small interfaces each one
// declares, and owns the start and stop order. It does not serve endpoints
// itself.
package daemon
