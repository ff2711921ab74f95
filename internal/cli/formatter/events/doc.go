// Package events is an engine event as docker 28's CLI shows it to
// --format templates and in JSON, including the deprecated status, id
// and from fields. Its package and type names are docker's, so that a
// template error names "*events.Message" as docker's does.
package events
