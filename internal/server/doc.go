// Package server serves the Docker Engine API: it owns the listeners, the
// route table built from the resource routers, API version negotiation and
// the writing of error responses.
package server
