package formatter

import (
	"bytes"
	"testing"
	"time"

	"github.com/moby/moby/api/types/image"
)

func TestImageTable(t *testing.T) {
	created := time.Now().Add(-3 * time.Minute).Unix()
	id := "sha256:11732dffc2391b9f49a9463552ffef842f235818e85d82e7db9e83e3440a851d"
	images := []image.Summary{
		{ID: id, Created: created, Size: 1984241, Containers: -1, SharedSize: -1,
			RepoTags: []string{"busybox:latest", "myrepo/bb:v1", "localhost:5000/foo/bar:x"}},
		{ID: "sha256:556ece05a7bc0000000000000000000000000000000000000000000000000000", Created: created, Size: 1984241},
		{ID: "sha256:4997720c1d8d0000000000000000000000000000000000000000000000000000", Created: created, Size: 3001000,
			RepoTags:    []string{"localhost:5999/small:1"},
			RepoDigests: []string{"localhost:5999/small@sha256:4997720c1d8db437de926c39ec9e25b291886dad7197e2437b5334d092b190e9"}},
	}
	var b bytes.Buffer
	ctx := ImageContext{Context: Context{Output: &b, Format: NewImageFormat("table", false, false), Trunc: true}}
	if err := ImageWrite(ctx, images); err != nil {
		t.Fatal(err)
	}
	want := `REPOSITORY               TAG       IMAGE ID       CREATED         SIZE
busybox                  latest    11732dffc239   3 minutes ago   1.98MB
myrepo/bb                v1        11732dffc239   3 minutes ago   1.98MB
localhost:5000/foo/bar   x         11732dffc239   3 minutes ago   1.98MB
<none>                   <none>    556ece05a7bc   3 minutes ago   1.98MB
localhost:5999/small     1         4997720c1d8d   3 minutes ago   3MB
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}

	b.Reset()
	ctx = ImageContext{Context: Context{Output: &b, Format: NewImageFormat("table", false, true), Trunc: true}, Digest: true}
	if err := ImageWrite(ctx, images[2:]); err != nil {
		t.Fatal(err)
	}
	want = `REPOSITORY             TAG       DIGEST                                                                    IMAGE ID       CREATED         SIZE
localhost:5999/small   1         sha256:4997720c1d8db437de926c39ec9e25b291886dad7197e2437b5334d092b190e9   4997720c1d8d   3 minutes ago   3MB
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}

	b.Reset()
	ctx = ImageContext{Context: Context{Output: &b, Format: NewImageFormat("table", true, false), Trunc: true}}
	if err := ImageWrite(ctx, images[:1]); err != nil {
		t.Fatal(err)
	}
	if b.String() != "11732dffc239\n11732dffc239\n11732dffc239\n" {
		t.Errorf("quiet: %q", b.String())
	}
}

func TestImageFormatDigestColumn(t *testing.T) {
	for _, tc := range []struct {
		source        string
		quiet, digest bool
		want          Format
	}{
		{"table {{.ID}}", false, true, "table {{.ID}}\t{{.Digest}}"},
		{"table {{.ID}}\t{{.Digest}}", false, true, "table {{.ID}}\t{{.Digest}}"},
		{"{{.ID}}", false, true, "{{.ID}}"},
		{"table", true, true, DefaultQuietFormat},
	} {
		if got := NewImageFormat(tc.source, tc.quiet, tc.digest); got != tc.want {
			t.Errorf("NewImageFormat(%q, %v, %v) = %q, want %q", tc.source, tc.quiet, tc.digest, got, tc.want)
		}
	}
}

func TestHistoryTable(t *testing.T) {
	now := time.Now()
	items := []image.HistoryResponseItem{
		{ID: "sha256:0202ad473036830c51ff83697e91c60b037824594d92a46fdb23ef9bfededb70", Created: now.Add(-time.Hour).Unix(),
			CreatedBy: "/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef in /", Size: 1984241, Comment: "msg"},
		{ID: "<missing>", Created: 0, CreatedBy: "/bin/sh -c\t#(nop) CMD [\"sh\"]", Size: 0},
	}
	var b bytes.Buffer
	if err := HistoryWrite(Context{Output: &b, Format: NewHistoryFormat("table", false, true), Trunc: true}, true, items); err != nil {
		t.Fatal(err)
	}
	want := `IMAGE          CREATED             CREATED BY                                      SIZE      COMMENT
0202ad473036   About an hour ago   /bin/sh -c #(nop) ADD file:0123456789abcdef0…   1.98MB    msg
<missing>      N/A                 /bin/sh -c #(nop) CMD ["sh"]                    0B        
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := HistoryWrite(Context{Output: &b, Format: NewHistoryFormat("table", false, false), Trunc: true}, false, items[:1]); err != nil {
		t.Fatal(err)
	}
	created := time.Unix(items[0].Created, 0).Format(time.RFC3339)
	want = "IMAGE          CREATED AT             CREATED BY                                      SIZE      COMMENT\n" +
		"0202ad473036   " + created + "   /bin/sh -c #(nop) ADD file:0123456789abcdef0…   1984241   msg\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
