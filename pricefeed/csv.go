package pricefeed

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/gridmesh/gridmesh/exchange"
)

// Sentinel errors a [*CSVError] wraps, so callers can branch with errors.Is.
var (
	// ErrFormat: the header (or, for headerless files, the column count and
	// content of the first row) matches none of the layouts the reader knows.
	ErrFormat = errors.New("unrecognised CSV layout")
	// ErrFieldCount: a row has a different number of columns than the layout.
	ErrFieldCount = errors.New("wrong number of columns")
	// ErrSyntax: a field is not a valid number or boolean. For prices and
	// quantities the error also wraps the [*exchange.ParseError].
	ErrSyntax = errors.New("malformed value")
	// ErrRange: a field is well formed but not allowed, such as a
	// non-positive price, a negative quantity or a negative time.
	ErrRange = errors.New("value out of range")
	// ErrOrder: a row's time is earlier than the previous row's (candles:
	// not later, since open times must strictly increase).
	ErrOrder = errors.New("rows out of time order")
	// ErrOHLC: a candle's high or low does not bound its open and close.
	ErrOHLC = errors.New("inconsistent candle")
	// ErrLineTooLong: a line is longer than the reader's 64 KiB buffer.
	ErrLineTooLong = errors.New("line too long")
)

// CSVError reports a bad row of a recorded-data CSV: the line number (1 is
// the first line of the decompressed text, header included), the column
// name, the offending text and what was wrong with it. Err wraps one of the
// sentinel errors above ([ErrSyntax], [ErrRange], [ErrOrder], …). The
// readers return it as a pointer; the zero value is an empty report. It is
// a plain value, safe to read from several goroutines.
type CSVError struct {
	Line   int    // 1-based line number in the decompressed input
	Column string // column name from the layout; empty when the whole row is at fault
	Text   string // the offending field, or the row (cut to 200 bytes) when Column is empty
	Err    error
}

// Error formats the report as "pricefeed: line N, column C: "text": cause".
func (e *CSVError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("pricefeed: line %d: %q: %v", e.Line, e.Text, e.Err)
	}
	return fmt.Sprintf("pricefeed: line %d, column %s: %q: %v", e.Line, e.Column, e.Text, e.Err)
}

// Unwrap returns the cause.
func (e *CSVError) Unwrap() error { return e.Err }

const (
	maxLine   = 64 << 10 // longest line the readers accept
	maxFields = 16       // columns split per row; more are counted, not kept
	maxText   = 200      // longest row text quoted in an error
)

// lineReader reads a recorded-data CSV line by line and splits each line
// into fields without allocating: the fields alias the reader's buffer and
// are valid until the next call.
type lineReader struct {
	br     *bufio.Reader
	line   int // number of the line last returned
	fields [maxFields][]byte
	n      int // number of fields of the last line (may exceed maxFields)
	raw    []byte
	gzip   bool // the input is gzip-compressed
}

var gzipMagic = []byte{0x1f, 0x8b}

// newLineReader wraps r, decompressing it when it starts with the gzip
// magic bytes.
func newLineReader(r io.Reader) (*lineReader, error) {
	br := bufio.NewReaderSize(r, maxLine)
	if head, _ := br.Peek(2); bytes.Equal(head, gzipMagic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("pricefeed: gzip: %w", err)
		}
		return &lineReader{br: bufio.NewReaderSize(zr, maxLine), gzip: true}, nil
	}
	return &lineReader{br: br}, nil
}

// inputSize returns the number of bytes r holds when it can tell (a file,
// a bytes or strings reader), else -1.
func inputSize(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len())
	case interface{ Stat() (os.FileInfo, error) }:
		if st, err := v.Stat(); err == nil && st.Mode().IsRegular() {
			return st.Size()
		}
	}
	return -1
}

// rowsHint guesses how many rows of about rowBytes bytes an input of size
// bytes holds, to size the result once; gzip is counted as 3:1.
func (l *lineReader) rowsHint(size int64, rowBytes int64) int {
	if size <= 0 {
		return 0
	}
	if l.gzip {
		size *= 3
	}
	return int(min(size/rowBytes, 1<<22))
}

// next reads the next non-blank line and splits it at commas. It returns
// io.EOF at the end of the input.
func (l *lineReader) next() error {
	for {
		b, err := l.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			l.line++
			return &CSVError{Line: l.line, Text: cut(b), Err: ErrLineTooLong}
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("pricefeed: read line %d: %w", l.line+1, err)
		}
		if len(b) == 0 && err == io.EOF {
			return io.EOF
		}
		l.line++
		if l.line == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
		}
		if n := len(b); n > 0 && b[n-1] == '\n' {
			b = b[:n-1]
		}
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
		if len(b) == 0 {
			if err == io.EOF {
				return io.EOF
			}
			continue
		}
		l.raw = b
		l.split(b)
		return nil
	}
}

func (l *lineReader) split(b []byte) {
	n := 0
	for {
		i := bytes.IndexByte(b, ',')
		if i < 0 {
			if n < maxFields {
				l.fields[n] = b
			}
			n++
			break
		}
		if n < maxFields {
			l.fields[n] = b[:i]
		}
		n++
		b = b[i+1:]
	}
	l.n = n
}

// field returns field i of the current line.
func (l *lineReader) field(i int) []byte { return l.fields[i] }

// rowError reports a fault of the whole current row.
func (l *lineReader) rowError(err error) *CSVError {
	return &CSVError{Line: l.line, Text: cut(l.raw), Err: err}
}

// fieldError reports a fault of one field of the current row.
func (l *lineReader) fieldError(column string, text []byte, err error) *CSVError {
	return &CSVError{Line: l.line, Column: column, Text: cut(text), Err: err}
}

// checkCount reports a row whose column count is not want.
func (l *lineReader) checkCount(want int) error {
	if l.n != want {
		return l.rowError(fmt.Errorf("%w: %d, want %d", ErrFieldCount, l.n, want))
	}
	return nil
}

// header returns the current line's fields as lower-case names with
// surrounding spaces removed, or nil when the line is data: its first field
// starts with a digit.
func (l *lineReader) header() []string {
	if f := bytes.TrimSpace(l.fields[0]); len(f) > 0 && (f[0] >= '0' && f[0] <= '9' || f[0] == '-' || f[0] == '+' || f[0] == '.') {
		return nil
	}
	n := min(l.n, maxFields)
	names := make([]string, n)
	for i := range n {
		names[i] = string(bytes.ToLower(bytes.TrimSpace(l.fields[i])))
	}
	return names
}

func cut(b []byte) string {
	if len(b) > maxText {
		b = b[:maxText]
	}
	return string(b)
}

// parseUint parses a non-negative decimal integer with no sign or spaces.
func parseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (math.MaxInt64-9)/10 {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// Thresholds that tell apart Unix times in milliseconds, microseconds and
// nanoseconds by magnitude: 1e14 ms is the year 5138, 1e14 µs is 1973.
const (
	microsFrom = 1e14
	nanosFrom  = 1e17
)

// toMillis converts a Unix time in ms, µs or ns (told apart by magnitude)
// to milliseconds, truncating.
func toMillis(v int64) int64 {
	switch {
	case v >= nanosFrom:
		return v / 1e6
	case v >= microsFrom:
		return v / 1e3
	}
	return v
}

// parseTime parses a Unix time field (ms, µs or ns) into milliseconds.
func (l *lineReader) parseTime(column string, b []byte) (int64, error) {
	v, ok := parseUint(b)
	if !ok {
		if len(b) > 1 && b[0] == '-' {
			if _, neg := parseUint(b[1:]); neg {
				return 0, l.fieldError(column, b, fmt.Errorf("%w: negative time", ErrRange))
			}
		}
		return 0, l.fieldError(column, b, fmt.Errorf("%w: not a Unix time", ErrSyntax))
	}
	return toMillis(v), nil
}

// parseBool parses true/false in the spellings of Binance's dumps.
func parseBool(b []byte) (v, ok bool) {
	switch string(b) { // no allocation: the compiler compares in place
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	return false, false
}

func (l *lineReader) boolField(column string, b []byte) (bool, error) {
	v, ok := parseBool(b)
	if !ok {
		return false, l.fieldError(column, b, fmt.Errorf("%w: not true or false", ErrSyntax))
	}
	return v, nil
}

// gridField parses a price or quantity field with p. A number too large
// for the grid is ErrRange, any other failure ErrSyntax; both also wrap
// the parser's *exchange.ParseError.
func (l *lineReader) gridField(p *exchange.GridParser, column string, b []byte) (int64, error) {
	v, err := p.Parse(b)
	if err != nil {
		kind := ErrSyntax
		var pe *exchange.ParseError
		if errors.As(err, &pe) && pe.Err == "out of range" {
			kind = ErrRange
		}
		return 0, l.fieldError(column, b, fmt.Errorf("%w: %w", kind, err))
	}
	return v, nil
}

// readFile opens path and decodes it with read; errors name the file.
func readFile[T any](path string, rules exchange.Rules, read func(io.Reader, exchange.Rules) ([]T, error)) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pricefeed: %w", err)
	}
	defer f.Close()
	out, err := read(f, rules)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
