package registry

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/containerd/errdefs"
	"golang.org/x/crypto/bcrypt"
)

// htpasswdCost is apache's `htpasswd -B` default. distribution checks the
// bcrypt hash on every request, not once per login: at bcrypt's default
// cost of 10 one check took 266 ms of CPU on a busy 2-core test machine
// (4 ms at cost 5), and a push of a ten-layer image makes some forty
// requests. The file is written 0600.
const htpasswdCost = 5

// HashPassword returns the htpasswd line "user:<bcrypt hash>" (no newline),
// the only kind of entry distribution's htpasswd auth accepts; it is what
// `htpasswd -nB user` prints, without needing apache2-utils.
func HashPassword(user, password string) (string, error) {
	if err := validUser(user); err != nil {
		return "", err
	}
	if password == "" {
		return "", fmt.Errorf("password must not be empty: %w", errdefs.ErrInvalidArgument)
	}
	// bcrypt refuses passwords over 72 bytes (ErrPasswordTooLong) rather
	// than silently using a prefix; that is the user's input to fix.
	hash, err := bcrypt.GenerateFromPassword([]byte(password), htpasswdCost)
	if err != nil {
		return "", fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
	}
	return user + ":" + string(hash), nil
}

// SetPassword adds user to the htpasswd file at path, or replaces the
// user's entry, keeping every other line. The file is created 0600 if
// missing and replaced atomically, so a registry that re-reads it on
// change never sees half of it.
func SetPassword(path, user, password string) error {
	entry, err := HashPassword(user, password)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var out bytes.Buffer
	replaced := false
	sc := bufio.NewScanner(bytes.NewReader(old))
	for sc.Scan() {
		line := sc.Text()
		if name, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && name == user {
			if !replaced {
				out.WriteString(entry + "\n")
				replaced = true
			}
			continue
		}
		out.WriteString(line + "\n")
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !replaced {
		out.WriteString(entry + "\n")
	}
	return atomicfile.WriteFile(path, out.Bytes(), 0o600, true)
}

func validUser(user string) error {
	if user == "" || strings.ContainsAny(user, ":\r\n") || strings.TrimSpace(user) != user || strings.HasPrefix(user, "#") {
		return fmt.Errorf("invalid user name %q: must be non-empty, without ':', line breaks, surrounding spaces or a leading '#': %w", user, errdefs.ErrInvalidArgument)
	}
	return nil
}
