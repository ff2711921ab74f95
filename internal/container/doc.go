// Package container owns berth's containers: the persisted model (one
// config.v2.json per container, written atomically), the name and ID
// index, the state machine (created, running, paused, restarting,
// removing, exited, dead) and what serves every container and exec
// endpoint. Its parts, each with one job:
//
//   - Service: the containers' lifecycle (create, start, stop, kill,
//     restart, pause, wait, rename, update, resize, remove, prune), the
//     views of them (list, inspect, logs, attach, top) and Restore after
//     a daemon restart.
//   - monitor: follows each run to its exit, releases what the run held,
//     applies restart policies and --rm, and takes back the runs that
//     survived a daemon restart (live restore).
//   - Execs: the exec sessions (docker exec) of running containers.
//
// The package never imports the implementations it drives. It declares
// the small interfaces it consumes (deps.go): images and read-write
// layers, the network attacher, the shim launcher and its per-container
// client, the event publisher, the OCI spec builder and the log reader.
// internal/daemon passes the concrete services.
package container
