package logs

import (
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func TestJSONFileFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewWriter(JSONFile, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456700, time.FixedZone("x", 3600))
	w.Write("stdout", []byte("hello <world> & \"q\" \\ \t\x01é\u2028\n"), ts, false)
	w.Write("stderr", []byte("no newline"), ts, true)
	w.Write("stdout", []byte("bad \xff utf8\n"), ts, false)
	w.Close()
	data, _ := os.ReadFile(path)
	want := `{"log":"hello \u003cworld\u003e \u0026 \"q\" \\ \u0009\u0001é\u2028\n","stream":"stdout","time":"2024-05-06T06:08:09.1234567Z"}` + "\n" +
		`{"log":"no newline","stream":"stderr","time":"2024-05-06T06:08:09.1234567Z"}` + "\n" +
		`{"log":"bad \ufffd utf8\n","stream":"stdout","time":"2024-05-06T06:08:09.1234567Z"}` + "\n"
	if string(data) != want {
		t.Errorf("got\n%s\nwant\n%s", data, want)
	}
	msgs := readAll(t, JSONFile, path, ReadConfig{Tail: -1})
	if len(msgs) != 3 || string(msgs[0].Line) != "hello <world> & \"q\" \\ \t\x01é\u2028\n" || msgs[1].Stream != "stderr" ||
		string(msgs[1].Line) != "no newline" || !msgs[0].Time.Equal(ts) {
		t.Errorf("read back %+v", msgs)
	}
}

func readAll(t *testing.T, driver, path string, cfg ReadConfig) []Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, errc := Read(ctx, driver, path, cfg, nil)
	var out []Message
	for m := range msgs {
		out = append(out, m)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return out
}

func lines(ms []Message) string {
	var b strings.Builder
	for _, m := range ms {
		b.Write(m.Line)
	}
	return b.String()
}

var base = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func writeN(t *testing.T, w Writer, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := w.Write("stdout", []byte(fmt.Sprintf("line %03d\n", i)), base.Add(time.Duration(i)*time.Second), false); err != nil {
			t.Fatal(err)
		}
	}
}

func expect(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "line %03d\n", i)
	}
	return b.String()
}

func forDrivers(t *testing.T, f func(t *testing.T, driver string)) {
	for _, d := range []string{JSONFile, Local} {
		t.Run(d, func(t *testing.T) { f(t, d) })
	}
}

func TestRotation(t *testing.T) {
	forDrivers(t, func(t *testing.T, driver string) {
		for _, compress := range []string{"false", "true"} {
			t.Run("compress="+compress, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "c.log")
				w, err := NewWriter(driver, path, map[string]string{"max-size": "1k", "max-file": "3", "compress": compress})
				if err != nil {
					t.Fatal(err)
				}
				writeN(t, w, 0, 200)
				w.Close()
				entries, _ := os.ReadDir(dir)
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				wantFiles := "c.log c.log.1 c.log.2"
				if compress == "true" {
					wantFiles = "c.log c.log.1.gz c.log.2.gz"
				}
				if strings.Join(names, " ") != wantFiles {
					t.Fatalf("files %v, want %s", names, wantFiles)
				}
				for _, n := range names {
					st, _ := os.Stat(filepath.Join(dir, n))
					if !strings.HasSuffix(n, ".gz") && st.Size() > 1024+100 {
						t.Errorf("%s is %d bytes, max-size 1k", n, st.Size())
					}
				}
				if strings.HasSuffix(names[1], ".gz") {
					f, _ := os.Open(filepath.Join(dir, names[1]))
					if _, err := gzip.NewReader(f); err != nil {
						t.Errorf("%s: %v", names[1], err)
					}
					f.Close()
				}
				all := readAll(t, driver, path, ReadConfig{Tail: -1})
				if len(all) == 0 || len(all) >= 200 {
					t.Fatalf("%d messages retained", len(all))
				}
				first := 200 - len(all)
				if lines(all) != expect(first, 200) {
					t.Errorf("all: %q", lines(all))
				}
				// Tail reaching into rotated files.
				n := len(all) - 3
				if got := lines(readAll(t, driver, path, ReadConfig{Tail: n})); got != expect(200-n, 200) {
					t.Errorf("tail %d: %q", n, got)
				}
				if got := lines(readAll(t, driver, path, ReadConfig{Tail: 5})); got != expect(195, 200) {
					t.Errorf("tail 5: %q", got)
				}
				if got := readAll(t, driver, path, ReadConfig{Tail: 0}); len(got) != 0 {
					t.Errorf("tail 0: %d messages", len(got))
				}
				if got := lines(readAll(t, driver, path, ReadConfig{Tail: 1000})); got != expect(first, 200) {
					t.Errorf("tail 1000: %q", got)
				}
			})
		}
	})
}

func TestMaxFileOneTruncates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewWriter(JSONFile, path, map[string]string{"max-size": "500"})
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, w, 0, 50)
	w.Close()
	st, _ := os.Stat(path)
	if st.Size() > 600 {
		t.Errorf("size %d", st.Size())
	}
	got := readAll(t, JSONFile, path, ReadConfig{Tail: -1})
	if len(got) == 0 || string(got[len(got)-1].Line) != "line 049\n" {
		t.Errorf("%q", lines(got))
	}
}

func TestSinceUntil(t *testing.T) {
	forDrivers(t, func(t *testing.T, driver string) {
		path := filepath.Join(t.TempDir(), "c.log")
		w, _ := NewWriter(driver, path, nil)
		writeN(t, w, 0, 20)
		w.Close()
		got := lines(readAll(t, driver, path, ReadConfig{Tail: -1, Since: base.Add(5 * time.Second), Until: base.Add(9 * time.Second)}))
		if got != expect(5, 10) {
			t.Errorf("since/until: %q", got)
		}
		got = lines(readAll(t, driver, path, ReadConfig{Tail: 3, Since: base.Add(18 * time.Second)}))
		if got != expect(18, 20) {
			t.Errorf("tail+since: %q", got)
		}
	})
}

func TestFollow(t *testing.T) {
	forDrivers(t, func(t *testing.T, driver string) {
		dir := t.TempDir()
		path := filepath.Join(dir, "c.log")
		w, err := NewWriter(driver, path, map[string]string{"max-size": "2k", "max-file": "2", "compress": "false"})
		if err != nil {
			t.Fatal(err)
		}
		writeN(t, w, 0, 3)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped := make(chan struct{})
		msgs, errc := Read(ctx, driver, path, ReadConfig{Tail: 2, Follow: true}, stopped)
		next := func() string {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("follow ended early: %v", <-errc)
				}
				return string(m.Line)
			case <-ctx.Done():
				t.Fatal("timeout")
			}
			return ""
		}
		if a, b := next(), next(); a+b != expect(1, 3) {
			t.Fatalf("tail: %q", a+b)
		}
		// Live lines, across several rotations (2k per file, ~60 bytes a line).
		for i := 3; i < 150; i++ {
			writeN(t, w, i, i+1)
			if got := next(); got != expect(i, i+1) {
				t.Fatalf("line %d: got %q", i, got)
			}
		}
		// Writes racing with the end: everything written before stopped
		// closes is delivered, then the channel closes.
		writeN(t, w, 150, 180)
		w.Close()
		close(stopped)
		var rest strings.Builder
		for m := range msgs {
			rest.Write(m.Line)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if rest.String() != expect(150, 180) {
			t.Errorf("after stop: %q", rest.String())
		}
	})
}

func TestFollowBeforeFileExists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stopped := make(chan struct{})
	msgs, errc := Read(ctx, JSONFile, path, ReadConfig{Tail: -1, Follow: true}, stopped)
	w, err := NewWriter(JSONFile, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, w, 0, 1)
	if m := <-msgs; string(m.Line) != "line 000\n" {
		t.Fatalf("%q", m.Line)
	}
	w.Close()
	close(stopped)
	for range msgs {
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestFollowEndsWithContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, _ := NewWriter(JSONFile, path, nil)
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	msgs, errc := Read(ctx, JSONFile, path, ReadConfig{Tail: -1, Follow: true}, nil)
	cancel()
	for range msgs {
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestValidateOpts(t *testing.T) {
	cases := []struct {
		driver string
		opts   map[string]string
		want   string
	}{
		{JSONFile, map[string]string{"max-size": "10m", "max-file": "3", "compress": "true", "labels": "a"}, ""},
		{JSONFile, map[string]string{"foo": "bar"}, "unknown log opt 'foo' for json-file log driver"},
		{JSONFile, map[string]string{"max-file": "0"}, "max-file cannot be less than 1"},
		{JSONFile, map[string]string{"max-size": "0"}, "max-size must be a positive number"},
		{JSONFile, map[string]string{"max-size": "-1"}, "invalid size: '-1'"},
		{JSONFile, map[string]string{"max-size": "1k", "compress": "true"}, "compress cannot be true when max-file is less than 2 or max-size is not set"},
		{Local, map[string]string{"foo": "bar"}, "unknown log opt 'foo' for log driver local"},
		{Local, map[string]string{"max-file": "1"}, "compression cannot be enabled when max file count is 1"},
		{Local, nil, ""},
		{None, nil, ""},
		{"nope", nil, "error looking up logging plugin nope: plugin \"nope\" not found"},
	}
	for _, tc := range cases {
		err := ValidateOpts(tc.driver, tc.opts)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s %v: %v", tc.driver, tc.opts, err)
			}
			continue
		}
		if err == nil || err.Error() != tc.want || !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s %v: %v, want invalid argument %q", tc.driver, tc.opts, err, tc.want)
		}
	}
}

func TestNoneDriver(t *testing.T) {
	w, err := NewWriter(None, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write("stdout", []byte("x\n"), time.Now(), false)
	w.Close()
	msgs, errc := Read(context.Background(), None, "", ReadConfig{Tail: -1}, nil)
	for range msgs {
	}
	if err := <-errc; !errdefs.IsNotImplemented(err) {
		t.Errorf("reading none: %v", err)
	}
}

func TestPartialRecordAtEnd(t *testing.T) {
	// A reader must not return a record the writer has not finished.
	path := filepath.Join(t.TempDir(), "c.log")
	os.WriteFile(path, []byte(`{"log":"a\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}`+"\n"+`{"log":"b`), 0o644)
	got := readAll(t, JSONFile, path, ReadConfig{Tail: -1})
	if lines(got) != "a\n" {
		t.Errorf("%q", lines(got))
	}
	got = readAll(t, JSONFile, path, ReadConfig{Tail: 5})
	if lines(got) != "a\n" {
		t.Errorf("tail: %q", lines(got))
	}
}

func TestFollowSlowReaderAcrossRotations(t *testing.T) {
	forDrivers(t, func(t *testing.T, driver string) {
		path := filepath.Join(t.TempDir(), "c.log")
		w, err := NewWriter(driver, path, map[string]string{"max-size": "1k", "max-file": "10", "compress": "false"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped := make(chan struct{})
		msgs, errc := Read(ctx, driver, path, ReadConfig{Tail: -1, Follow: true}, stopped)
		writeN(t, w, 0, 1)
		if m := <-msgs; string(m.Line) != expect(0, 1) {
			t.Fatalf("%q", m.Line)
		}
		// Several rotations before the reader looks again.
		writeN(t, w, 1, 100)
		w.Close()
		close(stopped)
		var got strings.Builder
		for m := range msgs {
			got.Write(m.Line)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if got.String() != expect(1, 100) {
			t.Errorf("got %q", got.String())
		}
	})
}
