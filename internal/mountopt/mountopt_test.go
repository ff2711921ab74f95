package mountopt

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		options []string
		flags   uintptr
		data    string
	}{
		{nil, 0, ""},
		{[]string{"ro", "rbind"}, unix.MS_RDONLY | unix.MS_BIND | unix.MS_REC, ""},
		{[]string{"ro", "rw"}, 0, ""},
		{[]string{"nosuid", "", "size=64m", "defaults", "uid=1000"}, unix.MS_NOSUID, "size=64m,uid=1000"},
		{[]string{"lowerdir=/a:/b", "upperdir=/u", "workdir=/w", "index=off"}, 0, "lowerdir=/a:/b,upperdir=/u,workdir=/w,index=off"},
	} {
		flags, data := Parse(tc.options)
		if flags != tc.flags || data != tc.data {
			t.Errorf("Parse(%q) = %#x, %q; want %#x, %q", tc.options, flags, data, tc.flags, tc.data)
		}
	}
}
