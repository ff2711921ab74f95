package registry

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/auth"
	// The htpasswd package exports nothing: its init() registers the
	// access controller under htpasswdAuthName, the only way to reach it.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/distribution/distribution/v3/registry/storage"
)

// DefaultAddr is where `berth registry serve` listens unless told otherwise:
// loopback, so that a registry started for a test or a demo is not exposed,
// and port 5000, which Docker users type by habit.
const DefaultAddr = "127.0.0.1:5000"

// DefaultRealm is the basic-auth realm announced when none is configured.
const DefaultRealm = "berth registry"

// Config describes one registry server.
type Config struct {
	// Root is the storage directory (created if missing). Its layout is
	// distribution's (docker/registry/v2/...), the same as Debian's
	// docker-registry uses, so either server can serve the other's data.
	Root string
	// Addr is the TCP listen address; DefaultAddr when empty. Use
	// "127.0.0.1:0" for a random port and read it back with Server.Addr.
	Addr string
	// Htpasswd, when set, is an htpasswd file of bcrypt entries (see
	// HashPassword) and turns on basic auth for every endpoint, /v2/
	// included as distribution does, except /v1/_ping, which clients use
	// to probe the server before they know its auth scheme. The file is
	// re-read when it changes.
	Htpasswd string
	// Realm is the basic-auth realm; DefaultRealm when empty.
	Realm string
	// TLSCert and TLSKey are PEM files; both or neither.
	TLSCert, TLSKey string
	// LogLevel is distribution's logrus level: "" (quiet: only server-side
	// errors), "error", "warn", "info" (one line per request) or "debug".
	LogLevel string
}

// Server is a running registry.
type Server struct {
	ln       net.Listener
	http     *http.Server
	app      *handlers.App
	tls      bool
	lock     *rootLock
	done     chan struct{}
	serveErr error

	closeOnce sync.Once
	closeErr  error
}

// Serve validates cfg, binds the listen address and serves in the
// background until Close is called or ctx ends. The registry is ready for
// requests when Serve returns.
func Serve(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Root == "" {
		return nil, fmt.Errorf("registry root directory is required: %w", errdefs.ErrInvalidArgument)
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, fmt.Errorf("a TLS certificate needs its key and a key its certificate: %w", errdefs.ErrInvalidArgument)
	}
	if err := setLogLevel(cfg.LogLevel); err != nil {
		return nil, err
	}

	var tlsConfig *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("loading TLS certificate: %v: %w", err, errdefs.ErrInvalidArgument)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	var access auth.AccessController
	if cfg.Htpasswd != "" {
		// distribution would silently create a missing file with a random
		// "docker" user and log its password; a typo in the path must
		// fail instead.
		if _, err := os.Stat(cfg.Htpasswd); err != nil {
			return nil, fmt.Errorf("htpasswd file: %v: %w", err, errdefs.ErrInvalidArgument)
		}
		var err error
		access, err = auth.GetAccessController(htpasswdAuthName, htpasswdOptions(cfg))
		if err != nil {
			return nil, fmt.Errorf("htpasswd: %v: %w", err, errdefs.ErrInvalidArgument)
		}
	}

	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, err
	}
	lock, err := lockRoot(cfg.Root, false)
	if err != nil {
		return nil, err
	}
	var app *handlers.App
	fail := func(err error) (*Server, error) {
		if app != nil {
			_ = app.Shutdown()
		}
		lock.release()
		return nil, err
	}
	driver := newDriver(cfg.Root)
	if app, err = newApp(ctx, cfg, driver); err != nil {
		return fail(err)
	}
	// The search handler reads the catalog through its own Namespace over
	// the same driver: App keeps its own private.
	ns, err := storage.NewRegistry(ctx, driver)
	if err != nil {
		return fail(err)
	}
	catalog, ok := ns.(distribution.RepositoryEnumerator)
	if !ok {
		return fail(errors.New("registry storage cannot enumerate repositories"))
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fail(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/v1/_ping", http.HandlerFunc(servePing))
	mux.Handle("/v1/search", &searchHandler{catalog: catalog, access: access})
	mux.Handle("/", app)

	s := &Server{
		ln:   ln,
		app:  app,
		tls:  tlsConfig != nil,
		lock: lock,
		done: make(chan struct{}),
		http: &http.Server{
			Handler:           recoverPanics(mux),
			TLSConfig:         tlsConfig,
			ReadHeaderTimeout: time.Minute,
			IdleTimeout:       2 * time.Minute,
			// Handshake failures and client hang-ups are the clients'
			// business; net/http would print each one.
			ErrorLog: log.New(io.Discard, "", 0),
			// HTTP/1.1 only, also over TLS: registry traffic is large
			// blobs, which Go's HTTP/2 server moved at 350-410 MB/s
			// against 450-580 MB/s over HTTP/1.1, using a fifth more
			// CPU (100 MB over TLS on loopback, BenchmarkBlob100MB,
			// runs interleaved); the Docker daemon's registry client
			// speaks HTTP/1.1 anyway.
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		},
	}
	if cfg.LogLevel == "debug" {
		s.http.ErrorLog = log.New(os.Stderr, "registry: ", log.LstdFlags)
	}
	go func() {
		defer close(s.done)
		var err error
		if tlsConfig != nil {
			err = s.http.ServeTLS(ln, "", "")
		} else {
			err = s.http.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = err
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

// Addr is the address the server listens on, e.g. "127.0.0.1:40123".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's base URL: http:// or https:// and Addr.
func (s *Server) URL() string {
	if s.tls {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// Wait blocks until the server stops and returns why, nil after Close.
func (s *Server) Wait() error {
	<-s.done
	return s.serveErr
}

// Close stops accepting connections, lets requests in flight finish for up
// to ten seconds (an upload of a large layer is cut after that), and
// releases the storage root. Safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.http.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = s.http.Close()
		}
		<-s.done
		s.closeErr = errors.Join(err, s.app.Shutdown())
		s.lock.release()
	})
	return s.closeErr
}

// newApp builds distribution's application. NewApp reports configuration
// errors by panicking; they come back here as errors.
func newApp(ctx context.Context, cfg Config, driver storageDriver) (app *handlers.App, err error) {
	registerDriverFactory()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	conf := &configuration.Configuration{
		Storage: configuration.Storage{
			driverFactoryName: configuration.Parameters{driverParam: driver},
			"delete":          configuration.Parameters{"enabled": true},
			"cache":           configuration.Parameters{"blobdescriptor": "inmemory"},
		},
	}
	// configuration.Parse would set these defaults; a Configuration
	// built in code starts at zero, and a zero catalog limit refuses
	// every page size.
	conf.Catalog.MaxEntries = 1000
	conf.Tags.MaxTags = 1000
	// Upload state tokens are signed with this secret; one per process
	// is right for a single server (distribution would generate one too,
	// with a warning that is noise here).
	conf.HTTP.Secret = hex.EncodeToString(secret)
	if cfg.Htpasswd != "" {
		conf.Auth = configuration.Auth{htpasswdAuthName: htpasswdOptions(cfg)}
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("registry configuration: %v", r)
		}
	}()
	return handlers.NewApp(ctx, conf), nil
}

// htpasswdAuthName is the name under which distribution's htpasswd package
// registers its access controller in its init(); that package exports no
// constructor, so it can only be reached by this name.
const htpasswdAuthName = "htpasswd"

func htpasswdOptions(cfg Config) configuration.Parameters {
	return configuration.Parameters{"realm": cfg.Realm, "path": cfg.Htpasswd}
}

// servePing answers the v1 ping that the Docker daemon sends before a
// search (GET /v1/_ping, https first, then http for insecure registries).
// Any response will do for the daemon; the header tells it this is a
// standalone registry, so that it sends basic auth with the search when the
// user is logged in.
func servePing(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Docker-Registry-Standalone", "true")
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, "{\"standalone\":true}\n")
}

// recoverPanics keeps one bad request from taking the server down;
// distribution's own wrapper for this lives in a package berth does not
// import (it brings cobra, ACME and OpenTelemetry exporters with it).
func recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logPanic(r, v)
				http.Error(w, "internal server error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func logPanic(r *http.Request, v any) {
	fmt.Fprintf(os.Stderr, "registry: panic serving %s %s: %v\n", r.Method, strings.ReplaceAll(r.URL.Path, "\n", ""), v)
}
