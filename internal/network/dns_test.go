package network

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestBuildResolvConf(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		host                 string
		dns, search, options []string
		want                 string
	}{
		{
			name: "host file kept, loopback and IPv6 nameservers dropped",
			host: "# generated\nsearch example.com\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nnameserver fd00::1\noptions edns0\n",
			want: "# generated\nsearch example.com\nnameserver 10.0.0.2\noptions edns0\n",
		},
		{
			name: "only loopback: Google's servers",
			host: "nameserver 127.0.0.1\nsearch lan",
			want: "search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n",
		},
		{
			name: "no host file",
			want: "nameserver 8.8.8.8\nnameserver 8.8.4.4\n",
		},
		{
			name: "dns override keeps host search and options",
			host: "search a.example\nnameserver 10.0.0.2\noptions ndots:2\n",
			dns:  []string{"1.1.1.1", "9.9.9.9"},
			want: "search a.example\nnameserver 1.1.1.1\nnameserver 9.9.9.9\noptions ndots:2\n",
		},
		{
			name:    "search and options override, host nameservers filtered",
			host:    "nameserver 127.0.0.11\nnameserver 10.0.0.3\nsearch x\n",
			search:  []string{"corp.example", "example"},
			options: []string{"timeout:1", "attempts:2"},
			want:    "search corp.example example\nnameserver 10.0.0.3\noptions timeout:1 attempts:2\n",
		},
		{
			name:   "search . clears the search list",
			host:   "nameserver 10.0.0.2\nsearch x\n",
			search: []string{"."},
			want:   "nameserver 10.0.0.2\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(buildResolvConf([]byte(tc.host), tc.dns, tc.search, tc.options))
			if got != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestResolvConfPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver 10.0.0.2\nsearch lan\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Service{cfg: Config{DNS: []string{"10.9.9.9"}}, resolvConfPath: path}
	if got, want := string(s.ResolvConf()), "search lan\nnameserver 10.9.9.9\n"; got != want {
		t.Fatalf("daemon dns: %q, want %q", got, want)
	}
	if got, want := string(s.ResolvConfWith([]string{"10.1.1.1"}, []string{"c.example"}, nil, false)), "search c.example\nnameserver 10.1.1.1\n"; got != want {
		t.Fatalf("container dns: %q, want %q", got, want)
	}
	// On a user-defined network: the embedded server only, the search
	// list kept, ndots:0 unless an ndots is given.
	if got, want := string(s.ResolvConfWith(nil, nil, nil, true)), "search lan\nnameserver 127.0.0.11\noptions ndots:0\n"; got != want {
		t.Fatalf("embedded: %q, want %q", got, want)
	}
	if got, want := string(s.ResolvConfWith([]string{"10.1.1.1"}, nil, []string{"ndots:3", "timeout:1"}, true)),
		"search lan\nnameserver 127.0.0.11\noptions ndots:3 timeout:1\n"; got != want {
		t.Fatalf("embedded with options: %q, want %q", got, want)
	}
	s.cfg.DNS = nil
	if got, want := string(s.ResolvConf()), "nameserver 10.0.0.2\nsearch lan\n"; got != want {
		t.Fatalf("host file: %q, want %q", got, want)
	}
}

func TestHosts(t *testing.T) {
	base := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
	s := &Service{}
	for _, tc := range []struct {
		hostname string
		ip       netip.Addr
		want     string
	}{
		{"3f4e5d6c7b8a", netip.MustParseAddr("172.17.0.2"), base + "172.17.0.2\t3f4e5d6c7b8a\n"},
		{"web.example.com", netip.MustParseAddr("172.17.0.3"), base + "172.17.0.3\tweb.example.com web\n"},
		{"none", netip.Addr{}, base},
	} {
		if got := string(s.Hosts(tc.hostname, tc.ip)); got != tc.want {
			t.Errorf("Hosts(%s, %s):\n%s\nwant:\n%s", tc.hostname, tc.ip, got, tc.want)
		}
	}
}
