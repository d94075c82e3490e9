package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/examples/internal/clitest"
	"github.com/gridmesh/gridmesh/exchange"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tripLine matches a printed round trip: its level and gross profit.
var tripLine = regexp.MustCompile(`round trip at level (\d+): 0\.002, gross (\d+\.\d{4}),`)

// TestShortRunTrades replays the first 400 candles (6h40 of market, a
// range of about 95,100–95,700 that crosses the grid's 100-USDT levels many
// times) in about 4 s and checks that the grid traded and stopped cleanly.
// The run lasts 10 s so that a loaded machine still replays every candle.
func TestShortRunTrades(t *testing.T) {
	var out, errOut bytes.Buffer
	sum, err := run(context.Background(), []string{"-duration", "10s", "-speed", "6000", "-candles", "400"}, &out, &errOut)
	require.NoError(t, err, "stderr: %s", errOut.String())
	s := out.String()

	assert.Equal(t, 400, sum.Candles, "the whole slice was replayed")
	assert.False(t, sum.Interrupted)
	// The initial position (the 24 levels from 95,600 up to 98,000 above
	// the start price 95,505.4: 0.002 × 24) is bought at once, as taker.
	assert.Contains(t, s, "fill   BUY  0.048 @ 95505.4, fee 2.2921 (initial position)")
	assert.GreaterOrEqual(t, sum.Engine.RoundTrips, 3, "round trips\n%s", s)
	assert.Equal(t, sum.Engine.RoundTrips, strings.Count(s, "round trip at level"), "one line per round trip")
	assert.Equal(t, sum.Engine.Fills, strings.Count(s, "fill   "), "one line per booked fill")
	assert.GreaterOrEqual(t, sum.Engine.Fills, 2*sum.Engine.RoundTrips+1)
	assert.Zero(t, sum.Engine.Rejected, "nothing refused")
	assert.Zero(t, sum.Engine.Illegal, "no update contradicted the engine")
	assert.False(t, sum.Engine.Halted, sum.Engine.Reason)
	// The venue executed every fill the engine booked, and the grid's own
	// position is the venue's (the grid started flat and owns all of it).
	assert.Equal(t, int64(sum.Engine.Fills), sum.Venue.Fills)
	require.Len(t, sum.Positions, 1)
	assert.True(t, sum.Engine.Position.Equal(sum.Positions[0].Quantity), "engine %s, venue %s", sum.Engine.Position, sum.Positions[0].Quantity)
	// Each round trip earns one level, 100 USDT × 0.002 BTC, gross; the
	// first exit of a level above the start (26 and up, 95,600 and up) sells
	// what the initial position bought at 95,505.4 instead.
	gross := decimal.Zero
	for _, l := range strings.Split(s, "\n") {
		m := tripLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		level, g := decimal.RequireFromString(m[1]), decimal.RequireFromString(m[2])
		gross = gross.Add(g)
		if g.Equal(decimal.RequireFromString("0.2")) {
			continue
		}
		exit := decimal.NewFromInt(93000).Add(level.Add(decimal.NewFromInt(1)).Mul(decimal.NewFromInt(100)))
		want := exit.Sub(decimal.RequireFromString("95505.4")).Mul(decimal.RequireFromString("0.002"))
		assert.True(t, level.GreaterThanOrEqual(decimal.NewFromInt(26)) && g.Equal(want), "%s: want gross 0.2000 or %s", l, want)
	}
	assert.True(t, gross.Equal(sum.Engine.Realized), "lines sum to %s, books %s", gross, sum.Engine.Realized)
	// Stopping canceled the entries; only the exits of held levels rest.
	require.NotEmpty(t, sum.Resting)
	for _, o := range sum.Resting {
		assert.Equal(t, exchange.Sell, o.Side, "entry %s left resting", o.ClientOrderID)
		assert.True(t, o.ReduceOnly, "exit %s", o.ClientOrderID)
	}
	for _, want := range []string{
		"gridmesh paper trading — BTCUSDT long grid 93000–98000, 50 intervals, 200 USDT per order, window 10",
		"— the recording ended; the market stays at its last price",
		"paper run ended after ", // the wall-clock duration is not asserted
		"400 candles replayed from 2025-05-04 15:33 UTC, price 95505.4 → ",
		"  round trips  ",
		"  wallet balance  ",
	} {
		assert.Contains(t, s, want)
	}
}

// lineWatcher is an output writer that calls fn with each complete line.
type lineWatcher struct {
	mu  sync.Mutex
	buf bytes.Buffer
	fn  func(string)
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, _ := w.buf.Write(p)
	if w.fn != nil && bytes.Contains(p, []byte("\n")) {
		for _, l := range strings.Split(strings.TrimSuffix(string(p), "\n"), "\n") {
			w.fn(l)
		}
	}
	return n, nil
}

// TestInterruptStopsCleanly cancels the parent context, as Ctrl-C does,
// as soon as the first round trip is printed: run stops the grid, prints
// the summary and returns with every goroutine ended (goleak).
func TestInterruptStopsCleanly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &lineWatcher{fn: func(l string) {
		if strings.Contains(l, "round trip at level") {
			cancel()
		}
	}}
	sum, err := run(ctx, []string{"-duration", "10m", "-speed", "12000"}, w, io.Discard)
	require.NoError(t, err)
	assert.True(t, sum.Interrupted)
	assert.GreaterOrEqual(t, sum.Engine.RoundTrips, 1)
	assert.Less(t, sum.Candles, 43199, "stopped before the recording ended")
	assert.Contains(t, w.buf.String(), "paper run interrupted after ")
	for _, o := range sum.Resting {
		assert.Equal(t, exchange.Sell, o.Side, "entry %s left resting", o.ClientOrderID)
	}
}

func TestBadFlagsAreUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-mode", "sideways"}, `-mode: grid mode "sideways": want long, short or neutral`},
		{[]string{"-amount", "lots"}, `-amount "lots" is not a decimal number`},
		{[]string{"-balance", "-5"}, "-balance -5 must be positive"},
		{[]string{"-leverage", "0"}, "-leverage 0 must be 1 to 125"},
		{[]string{"-duration", "0s"}, "-duration 0s must be positive"},
		{[]string{"-speed", "0"}, "-speed 0 must be above 0 and at most 1e6"},
		{[]string{"-candles", "-1"}, "-candles -1 must not be negative"},
		{[]string{"-data", "/no/such.csv"}, `-data "/no/such.csv": no such file`},
		{[]string{"-lower", "99000"}, "grid: WithBounds = 99000..98000: upper must be above lower"},
		{[]string{"-amount", "100"}, "grid: level 0 at 93000: entry notional 93 is below the minimum 100"},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var out, errOut bytes.Buffer
		_, err := run(context.Background(), tc.args, &out, &errOut)
		require.True(t, cli.IsUsage(err), "%v: %v", tc.args, err)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
		assert.Empty(t, out.String(), "%v: nothing traded", tc.args)
	}
	// Every problem is reported at once.
	_, err := run(context.Background(), []string{"-mode", "up", "-leverage", "200"}, io.Discard, io.Discard)
	assert.EqualError(t, err, `-mode: grid mode "up": want long, short or neutral; -leverage 200 must be 1 to 125`)
}

// TestCommand builds the command and runs it as a user does: a bad flag
// exits with status 2, and SIGINT (Ctrl-C) stops a run cleanly with
// status 0 and the summary.
func TestCommand(t *testing.T) {
	bin := clitest.Build(t, "paper")
	clitest.UsageFails(t, exec.Command(bin, "-mode", "sideways"), "sideways")

	cmd := exec.Command(bin, "-duration", "10m", "-speed", "12000")
	cmd.Stderr = os.Stderr
	all, signaled := clitest.InterruptAt(t, cmd, "round trip at level", nil)
	assert.True(t, signaled, "%s", all)
	assert.Contains(t, all, "paper run interrupted after ")
	assert.Contains(t, all, "orders left resting (exits)")
}
