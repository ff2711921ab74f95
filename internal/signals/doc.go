// Package signals reads signals as Docker's API and Dockerfiles name
// them: `docker kill --signal`, `--stop-signal`, the STOPSIGNAL
// instruction and `docker import --change`.
package signals
