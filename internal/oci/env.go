package oci

import "strings"

// DefaultPathEnv is the PATH a container gets when its image sets none,
// as in Docker.
const DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// containerEnv is Docker's CreateDaemonEnvironment: PATH, HOSTNAME and,
// with a tty, TERM=xterm, overridden by the container's own Env; then HOME
// from /etc/passwd unless Env sets it (runc would add the same; saying it
// in the spec makes it independent of the runtime).
func containerEnv(hostname string, tty bool, env []string, home string) []string {
	base := []string{"PATH=" + DefaultPathEnv, "HOSTNAME=" + hostname}
	if tty {
		base = append(base, "TERM=xterm")
	}
	out := replaceOrAppendEnv(base, env)
	if _, ok := lookupEnv(out, "HOME"); !ok {
		out = append(out, "HOME="+home)
	}
	return out
}

// replaceOrAppendEnv is Docker's ReplaceOrAppendEnvValues: an override
// "K=v" replaces K in place or is appended; a bare "K" removes K.
func replaceOrAppendEnv(defaults, overrides []string) []string {
	out := append([]string(nil), defaults...)
	index := make(map[string]int, len(out))
	for i, e := range out {
		k, _, _ := strings.Cut(e, "=")
		index[k] = i
	}
	removed := false
	for _, o := range overrides {
		k, _, hasValue := strings.Cut(o, "=")
		i, exists := index[k]
		switch {
		case !hasValue:
			if exists {
				out[i] = ""
				removed = true
			}
		case exists:
			out[i] = o
		default:
			index[k] = len(out)
			out = append(out, o)
		}
	}
	if !removed {
		return out
	}
	kept := out[:0]
	for _, e := range out {
		if e != "" {
			kept = append(kept, e)
		}
	}
	return kept
}

func lookupEnv(env []string, key string) (string, bool) {
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func setEnv(env []string, key, value string) []string {
	return replaceOrAppendEnv(env, []string{key + "=" + value})
}

func unsetEnv(env []string, key string) []string {
	return replaceOrAppendEnv(env, []string{key})
}
