package network

import "github.com/moby/moby/api/types/container"

// containerState is what WaitFor conditions receive.
type containerState = container.InspectResponse
