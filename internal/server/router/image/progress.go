package imagerouter

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/berth-dev/berth/internal/server/httputils"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/jsonstream"
)

// message is Docker's JSON progress message, with the "progress" and
// "error" strings that API 1.51 and older clients still read.
type message struct {
	Stream       string               `json:"stream,omitempty"`
	Status       string               `json:"status,omitempty"`
	Progress     *jsonstream.Progress `json:"progressDetail,omitempty"`
	ProgressText string               `json:"progress,omitempty"`
	ID           string               `json:"id,omitempty"`
	Error        *jsonstream.Error    `json:"errorDetail,omitempty"`
	ErrorText    string               `json:"error,omitempty"`
	Aux          any                  `json:"aux,omitempty"`
}

// jsonProgress writes image.Progress events as JSON messages, one per
// line ("\r\n" as Docker ends them), flushing each. The response starts
// with the first message: until then a handler can still fail with a
// status, and (HTTP/1.1) the request body stays readable.
type jsonProgress struct {
	mu      sync.Mutex
	rw      http.ResponseWriter
	w       io.Writer
	written bool
}

func newJSONProgress(w http.ResponseWriter) *jsonProgress {
	return &jsonProgress{rw: w}
}

func (p *jsonProgress) write(m message) {
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.written {
		p.written = true
		p.rw.Header().Set("Content-Type", "application/json")
		p.w = httputils.NewFlushWriter(p.rw)
	}
	_, _ = p.w.Write(append(b, '\r', '\n'))
}

// started reports whether anything was sent: after that, errors can only
// go into the stream.
func (p *jsonProgress) started() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.written
}

// end reports how a streamed operation ended: an error is the
// handler's to return while nothing was sent (so that it gets a status),
// and goes into the stream after that.
func (p *jsonProgress) end(err error) error {
	if err != nil && p.started() {
		p.Error(err)
		return nil
	}
	return err
}

func (p *jsonProgress) Bar(id, action string, current, total int64) {
	jp := &jsonstream.Progress{Current: current, Total: total}
	p.write(message{Status: action, Progress: jp, ProgressText: progressBar(jp), ID: id})
}

func (p *jsonProgress) Status(id, status string) { p.write(message{ID: id, Status: status}) }

// Update is Docker's progress.Update: a status with an empty progress
// detail, which clients render on the item's line.
func (p *jsonProgress) Update(id, action string) {
	p.write(message{ID: id, Status: action, Progress: &jsonstream.Progress{}})
}

func (p *jsonProgress) Aux(v any) { p.write(message{Progress: &jsonstream.Progress{}, Aux: v}) }

func (p *jsonProgress) Stream(text string) { p.write(message{Stream: text}) }

func (p *jsonProgress) Error(err error) {
	msg := httputils.Message(err)
	p.write(message{Error: &jsonstream.Error{Message: msg}, ErrorText: msg})
}

// progressBar renders the bar older clients print verbatim.
func progressBar(p *jsonstream.Progress) string {
	if p.Current <= 0 && p.Total <= 0 {
		return ""
	}
	if p.Total <= 0 {
		return fmt.Sprintf("%8v", units.HumanSize(float64(p.Current)))
	}
	percentage := min(int(float64(p.Current)/float64(p.Total)*100)/2, 50)
	bar := fmt.Sprintf("[%s>%s] ", strings.Repeat("=", percentage), strings.Repeat(" ", max(50-percentage, 0)))
	numbers := fmt.Sprintf("%8v/%v", units.HumanSize(float64(p.Current)), units.HumanSize(float64(p.Total)))
	if p.Current > p.Total {
		numbers = fmt.Sprintf("%8v", units.HumanSize(float64(p.Current)))
	}
	return bar + numbers
}
