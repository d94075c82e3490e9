package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestGridRunsOnTheAdapter runs the command briefly: the grid trades on
// the example venue through its adapter, and every goroutine of the venue,
// the adapter, the price monitor and the runner has ended when run returns
// (goleak).
func TestGridRunsOnTheAdapter(t *testing.T) {
	var out bytes.Buffer
	res, err := run(context.Background(), []string{"-duration", "3s"}, &out, io.Discard)
	require.NoError(t, err)
	s := out.String()
	e := res.Engine
	assert.GreaterOrEqual(t, e.RoundTrips, 1, "%s", s)
	assert.Equal(t, e.RoundTrips, strings.Count(s, "round trip at level"))
	assert.GreaterOrEqual(t, e.Fills, 2*e.RoundTrips)
	// The engine booked what the venue executed: at most the fills still
	// on their way when the run stopped are missing.
	assert.LessOrEqual(t, e.Fills, len(res.Fills))
	assert.LessOrEqual(t, len(res.Fills)-e.Fills, 2)
	for _, f := range res.Fills {
		assert.Equal(t, "BTCUSDT", f.Symbol)
		assert.True(t, strings.HasPrefix(f.ClientOrderID, "gmdemo_"), "every trade is the grid's: %q", f.ClientOrderID)
		assert.True(t, f.Fee.IsPositive(), "fees are paid, as gridmesh counts them: %s", f.Fee)
	}
	assert.Zero(t, e.Rejected, "the venue refused nothing")
	assert.Zero(t, e.Illegal)
	assert.False(t, e.Halted, e.Reason)
	assert.Zero(t, res.Executor.RateLimited, "the declared limit kept the grid under the venue's")
	assert.Zero(t, res.Malformed)
	require.Len(t, res.Positions, 1)
	assert.Contains(t, s, "a long grid 59000–61000 (50 USDT apart, 200 USDT per order) on examplevenue for 3s")
	assert.Contains(t, s, "refused by the venue's limit           0")
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-duration", "0s"}, "-duration 0s must be positive"},
		{[]string{"-seed", "x"}, `invalid value "x" for flag -seed`},
		{[]string{"more"}, `unexpected argument "more"`},
	} {
		var out bytes.Buffer
		_, err := run(context.Background(), tc.args, &out, io.Discard)
		require.True(t, cli.IsUsage(err), "%v: %v", tc.args, err)
		assert.Contains(t, err.Error(), tc.want)
		assert.Empty(t, out.String())
	}
}
