// Package inroot opens paths inside a directory as if it were the root
// directory (openat2 with RESOLVE_IN_ROOT): neither symlinks nor ".." can
// lead out of it. Container root filesystems, volumes and image content
// are read and written through it, so that nothing a container or an
// image holds can make the daemon touch the host.
package inroot
