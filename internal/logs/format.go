package logs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// A codec is one on-disk format: how a message is encoded, how complete
// records are parsed back, and how to find the last n records of a file
// without reading it all.
type codec interface {
	encode(buf []byte, stream string, line []byte, t time.Time, partial bool) []byte
	// decode parses the record at the start of b; n == 0 means b does not
	// hold a complete record yet.
	decode(b []byte) (m Message, n int, err error)
	// tail returns the offset of the first of the last n complete records
	// among the first size bytes of f, and how many records it found.
	tail(f io.ReaderAt, size int64, n int) (int64, int, error)
}

func codecFor(driver string) (codec, error) {
	switch driver {
	case JSONFile:
		return jsonCodec{}, nil
	case Local:
		return localCodec{}, nil
	}
	return nil, invalid("error looking up logging plugin %s: plugin %q not found", driver, driver)
}

// jsonCodec is Docker's json-file format, byte for byte: one object per
// line, fields in the order log, stream, time, strings escaped as Docker's
// jsonlog does (HTML characters, U+2028/9 and invalid UTF-8 included), the
// time in RFC 3339 with nanoseconds, UTC.
type jsonCodec struct{}

func (jsonCodec) encode(buf []byte, stream string, line []byte, t time.Time, partial bool) []byte {
	buf = append(buf, '{')
	if len(line) > 0 {
		buf = append(buf, `"log":`...)
		buf = appendJSONString(buf, line)
		buf = append(buf, ',')
	}
	if stream != "" {
		buf = append(buf, `"stream":`...)
		buf = appendJSONString(buf, []byte(stream))
		buf = append(buf, ',')
	}
	buf = append(buf, `"time":"`...)
	buf = t.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, '"', '}', '\n')
	return buf
}

func appendJSONString(buf, s []byte) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if 0x20 <= b && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '\\', '"':
				buf = append(buf, '\\', b)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRune(s[i:])
		if c == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

type jsonRecord struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

func (jsonCodec) decode(b []byte) (Message, int, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return Message{}, 0, nil
	}
	var r jsonRecord
	if err := json.Unmarshal(b[:i], &r); err != nil {
		return Message{}, i + 1, fmt.Errorf("corrupt json-file log line: %w", err)
	}
	return Message{Stream: r.Stream, Line: []byte(r.Log), Time: r.Time}, i + 1, nil
}

func (jsonCodec) tail(f io.ReaderAt, size int64, n int) (int64, int, error) {
	if n <= 0 || size == 0 {
		return size, 0, nil
	}
	buf := make([]byte, 32*1024)
	// Only complete lines count: find the last newline first.
	end := int64(-1)
	found := 0
	pos := size
	for pos > 0 {
		chunk := int64(len(buf))
		if pos < chunk {
			chunk = pos
		}
		pos -= chunk
		if _, err := f.ReadAt(buf[:chunk], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, err
		}
		for i := chunk - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				continue
			}
			if end < 0 {
				end = pos + i
				continue
			}
			found++
			if found == n {
				return pos + i + 1, found, nil
			}
		}
	}
	if end < 0 {
		return 0, 0, nil
	}
	return 0, found + 1, nil
}

// localCodec is berth's compact binary format for the local driver:
//
//	u32 len | stream (1 stdout, 2 stderr) | flags (1 partial) | i64 unix nanos | line | u32 len
//
// big endian, len covering the middle part. The trailing length lets a
// reader walk back from the end for --tail.
type localCodec struct{}

const localOverhead = 4 + 1 + 1 + 8 + 4

func (localCodec) encode(buf []byte, stream string, line []byte, t time.Time, partial bool) []byte {
	n := uint32(10 + len(line))
	buf = binary.BigEndian.AppendUint32(buf, n)
	s := byte(1)
	if stream == "stderr" {
		s = 2
	}
	var flags byte
	if partial {
		flags = 1
	}
	buf = append(buf, s, flags)
	buf = binary.BigEndian.AppendUint64(buf, uint64(t.UnixNano()))
	buf = append(buf, line...)
	return binary.BigEndian.AppendUint32(buf, n)
}

func (localCodec) decode(b []byte) (Message, int, error) {
	if len(b) < 4 {
		return Message{}, 0, nil
	}
	n := int(binary.BigEndian.Uint32(b))
	if n < 10 {
		return Message{}, len(b), errors.New("corrupt local log record")
	}
	if len(b) < n+8 {
		return Message{}, 0, nil
	}
	p := b[4 : 4+n]
	if int(binary.BigEndian.Uint32(b[4+n:])) != n {
		return Message{}, len(b), errors.New("corrupt local log record")
	}
	m := Message{Stream: "stdout", Time: time.Unix(0, int64(binary.BigEndian.Uint64(p[2:10])))}
	if p[0] == 2 {
		m.Stream = "stderr"
	}
	m.Line = append([]byte(nil), p[10:]...)
	return m, n + 8, nil
}

func (localCodec) tail(f io.ReaderAt, size int64, n int) (int64, int, error) {
	pos := size
	found := 0
	var b [4]byte
	for found < n && pos >= localOverhead {
		if _, err := f.ReadAt(b[:], pos-4); err != nil {
			return 0, 0, err
		}
		l := int64(binary.BigEndian.Uint32(b[:]))
		if l < 10 || l+8 > pos {
			break
		}
		pos -= l + 8
		found++
	}
	return pos, found, nil
}
