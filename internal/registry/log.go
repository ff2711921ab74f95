package registry

import (
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/sirupsen/logrus"
)

// setLogLevel configures logrus' standard logger, the only logger
// distribution writes to. At "info" distribution logs every request, and at
// "error" every response with an error status, including the 404s that
// clients provoke on purpose (a push asks for each blob before uploading
// it). Quiet keeps the error level but drops client errors, so that only
// what went wrong on the server side is printed.
func setLogLevel(level string) error {
	std := logrus.StandardLogger()
	inner := std.Formatter
	if q, ok := inner.(quietFormatter); ok {
		inner = q.next
	}
	switch level {
	case "":
		std.SetLevel(logrus.ErrorLevel)
		std.SetFormatter(quietFormatter{next: inner})
	case "error", "warn", "info", "debug":
		l, _ := logrus.ParseLevel(level)
		std.SetLevel(l)
		std.SetFormatter(inner)
	default:
		return fmt.Errorf("invalid log level %q (one of error, warn, info, debug): %w", level, errdefs.ErrInvalidArgument)
	}
	return nil
}

// quietFormatter drops distribution's "response completed with error" lines
// for 4xx responses. A formatter is the one place logrus lets an entry be
// dropped: it writes nothing when the formatter returns nothing.
type quietFormatter struct{ next logrus.Formatter }

func (q quietFormatter) Format(e *logrus.Entry) ([]byte, error) {
	if status, ok := e.Data["http.response.status"].(int); ok && status < 500 {
		return nil, nil
	}
	return q.next.Format(e)
}
