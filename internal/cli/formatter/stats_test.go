package formatter

import (
	"bytes"
	"testing"
)

func statsOutput(t *testing.T, format string, trunc bool, rows ...StatsEntry) string {
	t.Helper()
	var out bytes.Buffer
	if err := StatsWrite(Context{Output: &out, Format: NewStatsFormat(format), Trunc: trunc}, rows); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// Memory is in binary units, network and disk in decimal ones with three
// digits, percentages with two decimals; a row that could not be read is
// all "--" but for its names.
func TestStatsTable(t *testing.T) {
	rows := []StatsEntry{{
		Container: "web", Name: "/web", ID: "dc56d01df122c7751b43d5e5869a8ed0425abedf9c6cee922583f7d7ffafa305",
		CPUPercentage: 101.456, Memory: 1290000, MemoryLimit: 16642998272, MemoryPercentage: 0.0077511,
		NetworkRx: 1234, NetworkTx: 0, BlockRead: 999, BlockWrite: 12345678, PidsCurrent: 12,
	}, {
		Container: "gone", ID: "283128f196d249d15ba190bcb1921ba516abe5aac6e4255e86f25e3ba1cf522f", IsInvalid: true,
		CPUPercentage: 3, Memory: 1, PidsCurrent: 2,
	}}
	want := `CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O       BLOCK I/O       PIDS
dc56d01df122   web       101.46%   1.23MiB / 15.5GiB   0.01%     1.23kB / 0B   999B / 12.3MB   12
283128f196d2   --        --        -- / --             --        --            --              --
`
	if got := statsOutput(t, TableFormatKey, true, rows...); got != want {
		t.Errorf("table:\n%s--- want\n%s", got, want)
	}
	want = "web dc56d01df122c7751b43d5e5869a8ed0425abedf9c6cee922583f7d7ffafa305 101.46%\ngone 283128f196d249d15ba190bcb1921ba516abe5aac6e4255e86f25e3ba1cf522f --\n"
	if got := statsOutput(t, "{{.Container}} {{.ID}} {{.CPUPerc}}", false, rows...); got != want {
		t.Errorf("template:\n%s--- want\n%s", got, want)
	}
	want = `{"BlockIO":"--","CPUPerc":"--","Container":"gone","ID":"283128f196d2","MemPerc":"--","MemUsage":"-- / --","Name":"--","NetIO":"--","PIDs":"--"}` + "\n"
	if got := statsOutput(t, JSONFormatKey, true, rows[1]); got != want {
		t.Errorf("json:\n%s--- want\n%s", got, want)
	}
	want = "CONTAINER   MEM %\nweb         0.01%\n"
	if got := statsOutput(t, `table {{.Container}}\t{{.MemPerc}}`, true, rows[0]); got != want {
		t.Errorf("custom table:\n%s--- want\n%s", got, want)
	}
}
