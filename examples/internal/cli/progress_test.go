package cli

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProgressLine checks the line a terminal sees: throttled updates, an
// estimate from the elapsed time, the last update always, and a newline at
// the end.
func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	p := newProgress(&buf, "sweep", func() time.Time { return clock })
	clock = clock.Add(10 * time.Second)
	p.Update(25, 100)
	assert.Equal(t, "\rsweep 25/100 (25%) ETA 30s", buf.String())
	buf.Reset()
	clock = clock.Add(Interval / 2)
	p.Update(26, 100)
	assert.Empty(t, buf.String(), "throttled")
	clock = clock.Add(Interval)
	p.Update(50, 100)
	assert.Equal(t, "\rsweep 50/100 (50%) ETA 10s", buf.String(), "10.3 s for half: about 10 s left")
	buf.Reset()
	p.Update(100, 100)
	assert.Equal(t, "\rsweep 100/100 (100%) in 10.3s", buf.String(), "the last always shows, unthrottled")
	buf.Reset()
	p.Done()
	assert.Equal(t, "\n", buf.String())
}

// TestNoProgressOffATerminal checks that a file, a pipe and -quiet show
// nothing, and that a nil Progress is safe to call.
func TestNoProgressOffATerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "log")
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, IsTerminal(f))
	assert.Nil(t, NewProgress(f, "x", false))
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	assert.False(t, IsTerminal(w))
	assert.Nil(t, NewProgress(w, "x", false))
	assert.Nil(t, NewProgress(os.Stderr, "x", true), "-quiet")
	var p *Progress
	p.Update(1, 2)
	p.Done()
}

// TestProgressPadsAShorterLine checks that a shorter line blanks the rest
// of the longer one before it.
func TestProgressPadsAShorterLine(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	p := newProgress(&buf, "run", func() time.Time { return clock })
	clock = clock.Add(time.Hour)
	p.Update(1, 1000)
	long := buf.Len() - 1
	buf.Reset()
	clock = clock.Add(time.Second)
	p.Update(999, 1000)
	assert.Equal(t, long, buf.Len()-1, "%q", buf.String())
	assert.Contains(t, buf.String(), "ETA 4s")
}
