package core

import (
	"strconv"

	"github.com/moby/moby/api/types/container"
)

// containerState is what WaitFor conditions receive.
type containerState = container.InspectResponse

func itoa(i int) string { return strconv.Itoa(i) }
