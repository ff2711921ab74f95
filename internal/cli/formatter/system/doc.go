// Package system renders "version" and "info" as docker 28's CLI does:
// the templates, the field layout that --format templates and JSON see,
// and the plain-text report. Type names match docker's (system.versionInfo,
// system.clientVersion, system.dockerInfo) because template errors name them.
package system
