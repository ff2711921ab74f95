package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

func TestMain(m *testing.M) { os.Exit(e2e.MainWith(m, e2e.MainOptions{Lazy: true})) }

// runRm is what `docker run --rm busybox true` asks of the engine: create
// with auto-remove, wait for removal, start, and the exit status.
func runRm(b *testing.B, cli *client.Client, hc *container.HostConfig) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hc.AutoRemove = true
	cr, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Image:      e2e.Image,
		Config:     &container.Config{Cmd: []string{"true"}},
		HostConfig: hc,
	})
	if err != nil {
		b.Fatal(err)
	}
	w := cli.ContainerWait(ctx, cr.ID, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
	if _, err := cli.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
		b.Fatal(err)
	}
	select {
	case r := <-w.Result:
		if r.StatusCode != 0 {
			b.Fatalf("exit %d", r.StatusCode)
		}
	case err := <-w.Error:
		b.Fatal(err)
	}
}

func BenchmarkRunRm(b *testing.B) {
	e := e2e.Current(b)
	cli := e.Client(b)
	runRm(b, cli, &container.HostConfig{}) // warm up
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runRm(b, cli, &container.HostConfig{})
	}
}

func BenchmarkRunRmNetworkNone(b *testing.B) {
	e := e2e.Current(b)
	cli := e.Client(b)
	runRm(b, cli, &container.HostConfig{NetworkMode: "none"})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runRm(b, cli, &container.HostConfig{NetworkMode: "none"})
	}
}

func BenchmarkRunRmCrun(b *testing.B) {
	e := e2e.Current(b)
	cli := e.Client(b)
	info, err := cli.Info(context.Background(), client.InfoOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, ok := info.Info.Runtimes["crun"]; !ok {
		b.Skip("engine has no crun runtime")
	}
	runRm(b, cli, &container.HostConfig{Runtime: "crun"})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runRm(b, cli, &container.HostConfig{Runtime: "crun"})
	}
}

// BenchmarkCreateStart creates and starts long-running containers; they
// are removed outside the timed part.
func BenchmarkCreateStart(b *testing.B) {
	e := e2e.Current(b)
	cli := e.Client(b)
	ctx := context.Background()
	var ids []string
	b.Cleanup(func() {
		for _, id := range ids {
			cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
		}
	})
	for i := 0; i < b.N; i++ {
		cr, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
			Image:  e2e.Image,
			Name:   fmt.Sprintf("bench-cs-%d-%d", b.N, i),
			Config: &container.Config{Cmd: []string{"sleep", "1000"}},
		})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, cr.ID)
		if _, err := cli.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
}

func BenchmarkExec(b *testing.B) {
	e := e2e.Current(b)
	cli := e.Client(b)
	ctx := context.Background()
	cr, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Image: e2e.Image, Name: fmt.Sprintf("bench-exec-%d", b.N),
		Config: &container.Config{Cmd: []string{"sleep", "1000"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.ContainerRemove(ctx, cr.ID, client.ContainerRemoveOptions{Force: true}) })
	if _, err := cli.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ex, err := cli.ExecCreate(ctx, cr.ID, client.ExecCreateOptions{Cmd: []string{"true"}, AttachStdout: true, AttachStderr: true})
		if err != nil {
			b.Fatal(err)
		}
		att, err := cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
		if err != nil {
			b.Fatal(err)
		}
		// The stream closes when the process ended.
		buf := make([]byte, 512)
		for {
			if _, err := att.Reader.Read(buf); err != nil {
				break
			}
		}
		att.Close()
		res, err := cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("exec: %+v %v", res, err)
		}
	}
}
