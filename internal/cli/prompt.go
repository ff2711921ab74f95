package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
)

// promptCancelled is a "no" at a confirmation prompt: docker exits 0
// without a message.
type promptCancelled struct{ error }

// confirm asks message + " [y/N] " and reads one line; only "y" or "Y"
// agrees. An interrupted context counts as no.
func confirm(ctx context.Context, in io.Reader, out io.Writer, message string) (bool, error) {
	if message == "" {
		message = "Are you sure you want to proceed?"
	}
	_, _ = io.WriteString(out, message+" [y/N] ")
	result := make(chan bool, 1)
	go func() {
		scanner := bufio.NewScanner(in)
		ok := scanner.Scan() && strings.EqualFold(strings.TrimSpace(scanner.Text()), "y")
		result <- ok
	}()
	select {
	case <-ctx.Done():
		_, _ = io.WriteString(out, "\n")
		return false, errors.New("prompt terminated")
	case r := <-result:
		return r, nil
	}
}
