package shim_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/runtime/shim"
)

// TestLatency reports what the shim costs on the hot path of
// `docker run --rm busybox true`: spawn to created, start, wait, shutdown,
// and the shim's resident memory while a container runs. Set
// BERTH_SHIM_BINARY to a built berth binary to measure the real thing
// rather than the test binary.
func TestLatency(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		const rounds = 5
		var spawnD, startD, waitD, shutD time.Duration
		for i := 0; i < rounds; i++ {
			cfg := newConfig(t, rt, []string{"true"}, false, nil)
			cfg.Binary = os.Getenv("BERTH_SHIM_BINARY")
			c := ctx(t)
			t0 := time.Now()
			cl, err := shim.Spawn(c, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t1 := time.Now()
			if _, err := cl.Start(c); err != nil {
				t.Fatal(err)
			}
			t2 := time.Now()
			if e, err := cl.Wait(c); err != nil || e.Code != 0 {
				t.Fatalf("wait %+v %v", e, err)
			}
			t3 := time.Now()
			if err := cl.Shutdown(c); err != nil {
				t.Fatal(err)
			}
			t4 := time.Now()
			spawnD += t1.Sub(t0)
			startD += t2.Sub(t1)
			waitD += t3.Sub(t2)
			shutD += t4.Sub(t3)
		}
		t.Logf("%s, mean of %d: spawn→created %v, start %v, start→exit %v, shutdown %v",
			rt, rounds, spawnD/rounds, startD/rounds, waitD/rounds, shutD/rounds)

		cfg := newConfig(t, rt, []string{"sleep", "100"}, false, nil)
		cfg.Binary = os.Getenv("BERTH_SHIM_BINARY")
		ct := spawn(t, cfg)
		if _, err := ct.client.Start(ctx(t)); err != nil {
			t.Fatal(err)
		}
		status, _ := os.ReadFile("/proc/" + itoa(ct.client.Pid()) + "/status")
		rollup, _ := os.ReadFile("/proc/" + itoa(ct.client.Pid()) + "/smaps_rollup")
		var mem []string
		for _, l := range strings.Split(string(status)+string(rollup), "\n") {
			for _, k := range []string{"VmRSS:", "RssAnon:", "RssFile:", "Pss:", "Threads:"} {
				if strings.HasPrefix(l, k) {
					mem = append(mem, strings.Join(strings.Fields(l), " "))
				}
			}
		}
		t.Logf("shim memory: %s", strings.Join(mem, ", "))
		if os.Getenv("BERTH_SHIM_SMAPS") != "" {
			smaps, _ := os.ReadFile("/proc/" + itoa(ct.client.Pid()) + "/smaps")
			os.WriteFile(os.Getenv("BERTH_SHIM_SMAPS"), smaps, 0o644)
		}
	})
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{digits[i%10]}, b...)
	}
	return string(b)
}
