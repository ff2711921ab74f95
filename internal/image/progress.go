package image

import (
	"io"
	"time"
)

// Progress receives what a long operation (import, load) has to tell the
// client. The router turns it into Docker's JSON progress messages; the
// service never formats wire messages itself.
type Progress interface {
	// Bar reports action ("Loading layer") for id at current of total
	// bytes.
	Bar(id, action string, current, total int64)
	// Status is a status line, for id if not "" ("Pulling from
	// team/busybox", "Digest: sha256:…").
	Status(id, status string)
	// Update is the state of one item of a transfer ("Pulling fs layer",
	// "Pushed"), which Docker sends with an empty progress detail.
	Update(id, action string)
	// Stream is output text such as "Loaded image: busybox:latest\n".
	Stream(text string)
	// Aux is auxiliary data for the client (a push's Tag, Digest, Size).
	Aux(v any)
}

type nopProgress struct{}

func (nopProgress) Bar(string, string, int64, int64) {}
func (nopProgress) Status(string, string)            {}
func (nopProgress) Update(string, string)            {}
func (nopProgress) Stream(string)                    {}
func (nopProgress) Aux(any)                          {}

func orNop(p Progress) Progress {
	if p == nil {
		return nopProgress{}
	}
	return p
}

// progressReader reports bytes read as a progress bar, at most every
// 100ms and once at the end, as Docker's progress reader does.
type progressReader struct {
	r           io.Reader
	p           Progress
	id, action  string
	current     int64
	total       int64
	last        time.Time
	lastCurrent int64
}

// NewProgressReader wraps r so that reading it reports a progress bar.
func NewProgressReader(r io.Reader, p Progress, total int64, id, action string) io.Reader {
	return &progressReader{r: r, p: orNop(p), total: total, id: id, action: action, lastCurrent: -1}
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.current += int64(n)
	if err != nil || time.Since(pr.last) >= 100*time.Millisecond || (pr.total > 0 && pr.current == pr.total) {
		if pr.current != pr.lastCurrent {
			pr.p.Bar(pr.id, pr.action, pr.current, pr.total)
			pr.last = time.Now()
			pr.lastCurrent = pr.current
		}
	}
	return n, err
}
