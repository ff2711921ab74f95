// Package imagerouter serves the /images endpoints of the Engine API:
// import (POST /images/create?fromSrc=), load, save, list, inspect,
// history, tag, remove and prune. Version quirks of the wire shapes live
// here; the image service knows nothing of API versions.
package imagerouter
