// Package ipam hands out IPv4 addresses from one subnet. It is pure: no
// kernel and no files. The pool's state marshals to JSON so that the
// network service can persist it and a restarted daemon allocates around the
// addresses its live containers still hold.
package ipam
