// Package netns creates, enters and removes named network namespaces: a
// namespace is kept alive by bind-mounting its nsfs file on a path, as
// iproute2 does under /run/netns, so that it outlives the thread that made
// it and the OCI runtime can join it by path. Switching namespaces happens
// only on a locked OS thread, which is discarded if it cannot be switched
// back.
package netns
