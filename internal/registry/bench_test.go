package registry

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BenchmarkBlob100MB measures loopback throughput of one 100 MB blob
// through go-containerregistry, uploading (monolithic PUT after a POST, the
// registry hashing what it stores) and downloading (the client verifying
// the digest), against berth's registry over HTTP and HTTPS and, for
// comparison, Debian's docker-registry (distribution 2.8).
//
//	go test -run - -bench Blob100MB -benchtime 5x ./internal/registry
func BenchmarkBlob100MB(b *testing.B) {
	const size = 100 << 20
	data := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{1})
	_, _ = rng.Read(data)

	targets := []struct {
		name  string
		start func(b *testing.B) (repo func(string) name.Repository, opts []remote.Option)
	}{
		{"berth-http", func(b *testing.B) (func(string) name.Repository, []remote.Option) {
			srv := startRegistry(b, Config{})
			return repoOn(b, srv.Addr(), true), nil
		}},
		{"berth-https", func(b *testing.B) (func(string) name.Repository, []remote.Option) {
			certFile, keyFile, pool := registrytest.SelfSigned(b)
			srv := startRegistry(b, Config{TLSCert: certFile, TLSKey: keyFile})
			tr := remote.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig.RootCAs = pool
			return repoOn(b, srv.Addr(), false), []remote.Option{remote.WithTransport(tr)}
		}},
		{"distribution-2.8", func(b *testing.B) (func(string) name.Repository, []remote.Option) {
			return repoOn(b, registrytest.DockerRegistry(b, registrytest.Config{}), true), nil
		}},
	}
	for _, target := range targets {
		b.Run(target.name, func(b *testing.B) {
			repo, opts := target.start(b)
			var (
				last      name.Repository
				lastLayer v1.Layer
			)
			b.Run("upload", func(b *testing.B) {
				b.SetBytes(size)
				for i := 0; b.Loop(); i++ {
					// A fresh blob each time: an existing one is not
					// uploaded again.
					b.StopTimer()
					binary.LittleEndian.PutUint64(data, rand.Uint64())
					layer := static.NewLayer(data, types.DockerLayer)
					if _, err := layer.Digest(); err != nil {
						b.Fatal(err)
					}
					r := repo("bench/up")
					b.StartTimer()
					if err := remote.WriteLayer(r, layer, opts...); err != nil {
						b.Fatal(err)
					}
					last, lastLayer = r, layer
				}
			})
			b.Run("download", func(b *testing.B) {
				if lastLayer == nil {
					b.Skip("nothing uploaded")
				}
				d, err := lastLayer.Digest()
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(size)
				for b.Loop() {
					l, err := remote.Layer(last.Digest(d.String()), opts...)
					if err != nil {
						b.Fatal(err)
					}
					rc, err := l.Compressed()
					if err != nil {
						b.Fatal(err)
					}
					n, err := io.Copy(io.Discard, rc)
					if cerr := rc.Close(); err == nil {
						err = cerr // the digest is checked at EOF/close
					}
					if err != nil || n != size {
						b.Fatalf("read %d bytes: %v", n, err)
					}
				}
			})
		})
	}
}

func repoOn(b *testing.B, addr string, insecure bool) func(string) name.Repository {
	return func(s string) name.Repository {
		opts := []name.Option{name.StrictValidation}
		if insecure {
			opts = append(opts, name.Insecure)
		}
		r, err := name.NewRepository(addr+"/"+s, opts...)
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
}
