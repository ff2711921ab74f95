// Package container owns berth's containers: the persisted model (one
// config.v2.json per container, written atomically), the name and ID
// index, the state machine (created, running, paused, restarting,
// removing, exited, dead) and the Service behind every container and exec
// endpoint: create, start, stop, kill, restart, pause, wait, remove,
// list, inspect, logs, attach, resize, exec, top, rename, update, prune,
// restart policies and live restore.
//
// The package never imports the implementations it drives. It declares
// the small interfaces it consumes (deps.go): images and read-write
// layers, the network attacher, the shim launcher and its per-container
// client, the event publisher, the OCI spec builder and the log reader.
// internal/daemon passes the concrete services.
package container
