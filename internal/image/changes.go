package image

import (
	"encoding/json"
	"path"
	"strings"

	"github.com/berth-dev/berth/internal/signals"
	"github.com/docker/go-connections/nat"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// applyChanges applies Dockerfile instructions to an image config, as
// `docker import --change` and `docker commit --change` do. Only the
// instructions that change metadata are accepted: CMD, ENTRYPOINT, ENV,
// EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR. Arguments
// take the JSON (exec) form or the shell form, and $VARS from ENV are
// expanded where a Dockerfile expands them.
func applyChanges(cfg *dockerspec.DockerOCIImageConfig, changes []string) error {
	cmdSet := false
	for _, change := range changes {
		for _, line := range joinContinuations(change) {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			instr, rest, _ := strings.Cut(line, " ")
			if i := strings.IndexAny(instr, "\t"); i >= 0 {
				instr, rest = instr[:i], instr[i+1:]+" "+rest
			}
			rest = strings.TrimSpace(rest)
			cmd := strings.ToLower(instr)
			if err := applyChange(cfg, cmd, rest, &cmdSet); err != nil {
				return err
			}
		}
	}
	return nil
}

// joinContinuations splits a change that may hold several lines, joining
// lines ending in a backslash as the Dockerfile parser does.
func joinContinuations(s string) []string {
	var out []string
	var cur strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimRight(l, " \t\r"); strings.HasSuffix(t, "\\") {
			cur.WriteString(strings.TrimSuffix(t, "\\"))
			continue
		}
		cur.WriteString(l)
		out = append(out, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func applyChange(cfg *dockerspec.DockerOCIImageConfig, cmd, rest string, cmdSet *bool) error {
	env := envMap(cfg.Env)
	switch cmd {
	case "cmd":
		cfg.Cmd = execOrShell(cfg, rest)
		*cmdSet = true
	case "entrypoint":
		cfg.Entrypoint = execOrShell(cfg, rest)
		if !*cmdSet {
			// A new entrypoint discards the inherited CMD, as in a build.
			cfg.Cmd = nil
		}
	case "env":
		pairs, err := keyValues("ENV", rest, env)
		if err != nil {
			return err
		}
		for _, kv := range pairs {
			cfg.Env = setEnv(cfg.Env, kv[0], kv[1])
			env[kv[0]] = kv[1]
		}
	case "label":
		pairs, err := keyValues("LABEL", rest, env)
		if err != nil {
			return err
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range pairs {
			cfg.Labels[kv[0]] = kv[1]
		}
	case "expose":
		words, err := shellWords(rest, env)
		if err != nil {
			return err
		}
		if len(words) == 0 {
			return invalidf("EXPOSE requires at least one argument")
		}
		// The same parser Docker uses, for the same ranges and messages.
		ports, _, err := nat.ParsePortSpecs(words)
		if err != nil {
			return invalidf("%s", err.Error())
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for p := range ports {
			cfg.ExposedPorts[string(p)] = struct{}{}
		}
	case "user":
		user, err := oneWord("USER", rest, env)
		if err != nil {
			return err
		}
		cfg.User = user
	case "volume":
		var vols []string
		if arr, ok := jsonArray(rest); ok {
			vols = arr
		} else {
			words, err := shellWords(rest, env)
			if err != nil {
				return err
			}
			vols = words
		}
		if len(vols) == 0 {
			return invalidf("VOLUME requires at least one argument")
		}
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range vols {
			v = strings.TrimSpace(v)
			if v == "" {
				return invalidf("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
	case "workdir":
		wd, err := oneWord("WORKDIR", rest, env)
		if err != nil {
			return err
		}
		if !path.IsAbs(wd) {
			base := cfg.WorkingDir
			if base == "" {
				base = "/"
			}
			wd = path.Join(base, wd)
		}
		cfg.WorkingDir = path.Clean(wd)
	case "stopsignal":
		sig, err := oneWord("STOPSIGNAL", rest, env)
		if err != nil {
			return err
		}
		if _, err := signals.Parse(sig); err != nil {
			return err
		}
		cfg.StopSignal = sig
	case "onbuild":
		trigger, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
		switch strings.ToUpper(trigger) {
		case "":
			return invalidf("ONBUILD requires at least one argument")
		case "ONBUILD":
			return invalidf("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
		case "FROM", "MAINTAINER":
			return invalidf("%s isn't allowed as an ONBUILD trigger", strings.ToUpper(trigger))
		}
		cfg.OnBuild = append(cfg.OnBuild, strings.TrimSpace(rest))
	default:
		return invalidf("%s is not a valid change command", cmd)
	}
	return nil
}

// execOrShell reads CMD/ENTRYPOINT arguments: a JSON array is the exec
// form; anything else runs through the image's shell.
func execOrShell(cfg *dockerspec.DockerOCIImageConfig, rest string) []string {
	if arr, ok := jsonArray(rest); ok {
		return arr
	}
	shell := []string{"/bin/sh", "-c"}
	if len(cfg.Shell) > 0 {
		shell = append([]string(nil), cfg.Shell...)
	}
	if rest == "" {
		return nil
	}
	return append(shell, rest)
}

func jsonArray(s string) ([]string, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") {
		return nil, false
	}
	var arr []string
	if err := json.Unmarshal([]byte(s), &arr); err != nil {
		return nil, false
	}
	if arr == nil {
		arr = []string{}
	}
	return arr, true
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		m[k] = v
	}
	return m
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// keyValues parses "k=v k2='v 2'" or the legacy "k value with spaces".
func keyValues(instr, rest string, env map[string]string) ([][2]string, error) {
	words, err := shellWords(rest, env)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, invalidf("%s requires at least one argument", instr)
	}
	if !strings.Contains(words[0], "=") {
		// Legacy form: the first word is the key, the rest of the line
		// (spaces kept) the value.
		if len(words) < 2 {
			return nil, invalidf("%s must have two arguments", instr)
		}
		_, v, _ := strings.Cut(strings.TrimSpace(rest), " ")
		val, err := lex(strings.TrimSpace(v), env, false)
		if err != nil {
			return nil, invalidf("failed to process %q: %s", strings.TrimSpace(v), err.Error())
		}
		return [][2]string{{words[0], strings.Join(val, "")}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, invalidf("Syntax error - can't find = in %q. Must be of the form: name=value", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// shellWords splits s into words as the Dockerfile shell lexer does:
// quotes group and are removed, backslash escapes, and $VAR, ${VAR},
// ${VAR:-default} and ${VAR:+alternative} expand from env (single quotes
// excepted).
// oneWord is the argument of an instruction that takes exactly one word.
func oneWord(instruction, rest string, env map[string]string) (string, error) {
	words, err := shellWords(rest, env)
	if err != nil {
		return "", err
	}
	if len(words) != 1 {
		return "", invalidf("%s requires exactly one argument", instruction)
	}
	return words[0], nil
}

func shellWords(s string, env map[string]string) ([]string, error) {
	words, err := lex(s, env, true)
	if err != nil {
		// Docker names the word it could not process.
		word := s
		if _, v, ok := strings.Cut(s, "="); ok {
			word = v
		}
		return nil, invalidf("failed to process %q: %s", word, err.Error())
	}
	return words, nil
}

// lex is shellWords; with split false, blanks are kept as text and the
// result is one word.
func lex(s string, env map[string]string, split bool) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case split && (c == ' ' || c == '\t'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, invalidf("unexpected end of statement while looking for matching single-quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				switch {
				case s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$", s[i+1]) >= 0:
					i++
					cur.WriteByte(s[i])
				case s[i] == '$':
					n, val := expandVar(s[i:], env)
					cur.WriteString(val)
					i += n - 1
				default:
					cur.WriteByte(s[i])
				}
			}
			if i >= len(s) {
				return nil, invalidf("unexpected end of statement while looking for matching double-quote")
			}
			inWord = true
		case c == '$':
			n, val := expandVar(s[i:], env)
			cur.WriteString(val)
			i += n - 1
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// expandVar expands the variable reference at the start of s ("$X",
// "${X}", "${X:-d}", "${X:+a}") and says how many bytes it used.
func expandVar(s string, env map[string]string) (int, string) {
	if len(s) < 2 {
		return 1, "$"
	}
	if s[1] == '{' {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return len(s), ""
		}
		inner := s[2:end]
		if name, def, ok := strings.Cut(inner, ":-"); ok {
			if v, set := env[name]; set && v != "" {
				return end + 1, v
			}
			return end + 1, def
		}
		if name, alt, ok := strings.Cut(inner, ":+"); ok {
			if v, set := env[name]; set && v != "" {
				return end + 1, alt
			}
			return end + 1, ""
		}
		return end + 1, env[inner]
	}
	n := 1
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || n > 1 && s[n] >= '0' && s[n] <= '9') {
		n++
	}
	if n == 1 {
		return 1, "$"
	}
	return n, env[s[1:n]]
}
