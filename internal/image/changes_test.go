package image

import (
	"reflect"
	"testing"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestApplyChanges(t *testing.T) {
	cases := []struct {
		name    string
		changes []string
		want    ocispec.ImageConfig
		onbuild []string
	}{
		{"cmd json", []string{`CMD ["sh", "-c", "echo hi"]`}, ocispec.ImageConfig{Cmd: []string{"sh", "-c", "echo hi"}}, nil},
		{"cmd shell", []string{`CMD echo "hi there"`}, ocispec.ImageConfig{Cmd: []string{"/bin/sh", "-c", `echo "hi there"`}}, nil},
		{"entrypoint drops inherited cmd", []string{`ENTRYPOINT ["/bin/app"]`}, ocispec.ImageConfig{Entrypoint: []string{"/bin/app"}}, nil},
		{"cmd then entrypoint keeps cmd", []string{`CMD ["-v"]`, `entrypoint /bin/app`}, ocispec.ImageConfig{Cmd: []string{"-v"}, Entrypoint: []string{"/bin/sh", "-c", "/bin/app"}}, nil},
		{"env forms and expansion", []string{`ENV A=1 B="two words"`, `ENV C $A-${B}`, `ENV A=3`},
			ocispec.ImageConfig{Env: []string{"A=3", "B=two words", "C=1-two words"}}, nil},
		// As in a Dockerfile, one ENV sees the variables set before it.
		{"env default", []string{`ENV X=${UNSET:-fallback} Y=${X:+set}`, `ENV Z=${X:+set}`}, ocispec.ImageConfig{Env: []string{"X=fallback", "Y=", "Z=set"}}, nil},
		{"label", []string{`LABEL a=b "c d"="e f" g='$h'`}, ocispec.ImageConfig{Labels: map[string]string{"a": "b", "c d": "e f", "g": "$h"}}, nil},
		{"label legacy", []string{`LABEL maintainer someone else`}, ocispec.ImageConfig{Labels: map[string]string{"maintainer": "someone else"}}, nil},
		{"expose", []string{`EXPOSE 80 53/udp 8000-8001`}, ocispec.ImageConfig{ExposedPorts: map[string]struct{}{
			"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}}, nil},
		{"user", []string{`USER nobody:nogroup`}, ocispec.ImageConfig{User: "nobody:nogroup"}, nil},
		{"volume json and words", []string{`VOLUME ["/data"]`, `VOLUME /a /b`}, ocispec.ImageConfig{Volumes: map[string]struct{}{"/data": {}, "/a": {}, "/b": {}}}, nil},
		{"workdir relative", []string{`WORKDIR /srv`, `WORKDIR app`, `ENV D=x`, `WORKDIR $D/../y`}, ocispec.ImageConfig{WorkingDir: "/srv/app/y", Env: []string{"D=x"}}, nil},
		{"stopsignal", []string{`STOPSIGNAL SIGQUIT`}, ocispec.ImageConfig{StopSignal: "SIGQUIT"}, nil},
		{"onbuild", []string{`ONBUILD RUN echo hi`}, ocispec.ImageConfig{}, []string{"RUN echo hi"}},
		{"lowercase instruction", []string{`cmd ["true"]`}, ocispec.ImageConfig{Cmd: []string{"true"}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cfg dockerspec.DockerOCIImageConfig
			if err := applyChanges(&cfg, c.changes); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.ImageConfig, c.want) {
				t.Errorf("got %+v\nwant %+v", cfg.ImageConfig, c.want)
			}
			if !reflect.DeepEqual(cfg.OnBuild, c.onbuild) {
				t.Errorf("onbuild %v, want %v", cfg.OnBuild, c.onbuild)
			}
		})
	}
}

func TestApplyChangesRejects(t *testing.T) {
	for change, msg := range map[string]string{
		`RUN echo`:              "run is not a valid change command",
		`FROM busybox`:          "from is not a valid change command",
		`STOPSIGNAL SIGNOPE`:    "Invalid signal: SIGNOPE",
		`EXPOSE 80/xyz`:         "invalid proto: xyz",
		`EXPOSE http`:           "invalid containerPort: http",
		`ONBUILD ONBUILD RUN x`: "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
		`ONBUILD FROM x`:        "FROM isn't allowed as an ONBUILD trigger",
		`ENV A="unterminated`:   `failed to process "\"unterminated": unexpected end of statement while looking for matching double-quote`,
		`USER`:                  "USER requires exactly one argument",
	} {
		var cfg dockerspec.DockerOCIImageConfig
		err := applyChanges(&cfg, []string{change})
		if err == nil || err.Error() != msg || !errdefs.IsInvalidArgument(err) {
			t.Errorf("%q: got %v, want invalid argument %q", change, err, msg)
		}
	}
}
