package cli

import (
	"fmt"
	"io"
	"os"
	"time"
)

// IsTerminal reports whether f is a terminal (a character device), by its
// file mode: the standard library's way, with no ioctl.
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Progress shows a long job's progress with an estimate of the time left,
// rewriting one line of a terminal at most every Interval. A nil
// *Progress shows nothing, so a command can call it unconditionally. It is
// used from one goroutine.
type Progress struct {
	w          io.Writer
	label      string
	now        func() time.Time
	start, at  time.Time
	shown      bool
	lastLength int
}

// Interval is the least time between two updates of a progress line.
const Interval = 200 * time.Millisecond

// NewProgress returns a progress line on f labelled label, or nil when
// quiet is set or f is not a terminal, so logs, pipes and tests stay clean.
func NewProgress(f *os.File, label string, quiet bool) *Progress {
	if quiet || !IsTerminal(f) {
		return nil
	}
	return newProgress(f, label, time.Now)
}

func newProgress(w io.Writer, label string, now func() time.Time) *Progress {
	t := now()
	return &Progress{w: w, label: label, now: now, start: t}
}

// Update shows done of total, at most every Interval and always for the
// last; the estimate is the elapsed time scaled to what is left.
func (p *Progress) Update(done, total int) {
	if p == nil || total <= 0 {
		return
	}
	t := p.now()
	if done < total && p.shown && t.Sub(p.at) < Interval {
		return
	}
	p.at, p.shown = t, true
	elapsed := t.Sub(p.start)
	line := fmt.Sprintf("%s %d/%d (%.0f%%)", p.label, done, total, float64(done)*100/float64(total))
	if done > 0 && done < total {
		left := time.Duration(float64(elapsed) * float64(total-done) / float64(done))
		line += " ETA " + left.Round(time.Second).String()
	} else if done == total {
		line += " in " + elapsed.Round(10*time.Millisecond).String()
	}
	pad := ""
	for range p.lastLength - len(line) {
		pad += " "
	}
	p.lastLength = len(line)
	fmt.Fprint(p.w, "\r"+line+pad)
}

// Done ends the progress line with a newline, if one was shown.
func (p *Progress) Done() {
	if p == nil || !p.shown {
		return
	}
	fmt.Fprintln(p.w)
	p.shown = false
}
