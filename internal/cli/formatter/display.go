package formatter

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/docker/go-units"
)

// TruncateID shortens an ID to 12 characters after dropping an algorithm
// prefix such as "sha256:".
func TruncateID(id string) string {
	if i := strings.IndexRune(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// Ellipsis shortens s to at most maxWidth display columns, ending it with
// "…" when it was cut. East Asian wide characters count as two columns.
func Ellipsis(s string, maxWidth int) string {
	if maxWidth <= 0 {
		return ""
	}
	rs := []rune(s)
	if maxWidth == 1 {
		if len(rs) == 0 {
			return ""
		}
		return string(rs[0])
	}
	if len(s) == utf8.RuneCountInString(s) { // ASCII fast path
		if len(s) <= maxWidth {
			return s
		}
		return string(rs[:maxWidth-1]) + "…"
	}
	display := make([]int, 0, len(rs))
	width := 0
	for _, r := range rs {
		width += charWidth(r)
		display = append(display, width)
	}
	if width <= maxWidth {
		return s
	}
	for i := range display {
		if display[i] <= maxWidth-1 && display[i+1] > maxWidth-1 {
			return string(rs[:i+1]) + "…"
		}
	}
	return s
}

// charWidth is 2 for East Asian wide and fullwidth characters, else 1. It
// covers the blocks that matter in names and commands (CJK, Hangul, kana,
// fullwidth forms, emoji) without the full Unicode width tables.
func charWidth(r rune) int {
	switch {
	case r >= 0x1100 && r <= 0x115F, // Hangul Jamo
		r >= 0x2E80 && r <= 0x303E, // CJK radicals, punctuation
		r >= 0x3041 && r <= 0x33FF, // kana, CJK compatibility
		r >= 0x3400 && r <= 0x4DBF, // CJK extension A
		r >= 0x4E00 && r <= 0x9FFF, // CJK unified ideographs
		r >= 0xA000 && r <= 0xA4CF, // Yi
		r >= 0xAC00 && r <= 0xD7A3, // Hangul syllables
		r >= 0xF900 && r <= 0xFAFF, // CJK compatibility ideographs
		r >= 0xFE30 && r <= 0xFE4F, // CJK compatibility forms
		r >= 0xFF00 && r <= 0xFF60, // fullwidth forms
		r >= 0xFFE0 && r <= 0xFFE6,
		r >= 0x1F300 && r <= 0x1F64F, // emoji
		r >= 0x1F900 && r <= 0x1F9FF,
		r >= 0x20000 && r <= 0x3FFFD: // CJK extensions B and beyond
		return 2
	}
	return 1
}

// HumanSize is docker's size column: three significant digits, SI units
// ("1.99MB", "0B", "12.3kB").
func HumanSize(size int64) string {
	return units.HumanSizeWithPrecision(float64(size), 3)
}

// TimeAgo is docker's CREATED column: "2 minutes ago", "Less than a second ago".
func TimeAgo(t time.Time, now time.Time) string {
	return units.HumanDuration(now.UTC().Sub(t)) + " ago"
}
