package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/examples/internal/clitest"
	"github.com/gridmesh/gridmesh/grid/backtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// small is a quick space: 2 ranges × 2 level counts, long only, one of
// each other setting.
var small = []string{"-modes", "long", "-bounds", "90000-115000,95000-110000", "-intervals", "20,40", "-amounts", "300",
	"-windows", "10", "-geometric", "false", "-top", "3"}

// TestSmallSweepRanksAndTestsOutOfSample runs a small sweep and checks
// the table: four ranked rows, the best three with out-of-sample figures,
// the same on one worker as on four.
func TestSmallSweepRanksAndTestsOutOfSample(t *testing.T) {
	csvPath := filepath.Join(t.TempDir(), "s.csv")
	var out, errOut bytes.Buffer
	require.NoError(t, run(context.Background(), append([]string{"-workers", "1", "-csv", csvPath}, small...), &out, &errOut))
	s := out.String()
	assert.Empty(t, errOut.String(), "no progress off a terminal")
	assert.Contains(t, s, "gridmesh sweep — BTCUSDT, 4 combinations, workers 1, data binance-um_BTCUSDT_1m_2025-05-04_2025-06-03.csv.gz")
	assert.Contains(t, s, "Ranked by return on 2025-05-04 15:33 → 2025-05-25 15:32 (30239 candles); out of sample 2025-05-25 15:32 → 2025-06-03 15:32 (12960 candles), top 3.")
	assert.Contains(t, s, "| # | mode | grid | amount | window | leverage | return | return % | max DD % | trips | OOS return | OOS return % | OOS max DD % | OOS trips |")
	var rows []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| # ") {
			rows = append(rows, l)
		}
	}
	require.Len(t, rows, 3, "-top 3")
	for i, r := range rows {
		assert.True(t, strings.HasPrefix(r, "| "+string(rune('1'+i))+" | long | "), r)
		assert.NotContains(t, r, "n/a", "every range was entered after the split: %s", r)
	}
	assert.Contains(t, s, "wrote "+csvPath+" (-csv, 4 rows)")

	f, err := os.Open(csvPath)
	require.NoError(t, err)
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	assert.Equal(t, backtest.SweepColumns, recs[0])
	require.Len(t, recs, 5)
	assert.Equal(t, "", recs[4][len(recs[4])-2], "the fourth is below the top 3: no out-of-sample run")

	var four bytes.Buffer
	require.NoError(t, run(context.Background(), append([]string{"-workers", "4"}, small...), &four, &errOut))
	assert.Contains(t, four.String(), "4 combinations, workers 4,")
	table := func(s string) string {
		s = s[strings.Index(s, "Ranked by"):]
		if i := strings.Index(s, "\nwrote"); i >= 0 {
			s = s[:i]
		}
		return s
	}
	assert.Equal(t, table(s), table(four.String()), "the same table on 4 workers")
}

// TestRangeNeverEnteredIsNotApplicable sweeps a range that the price
// leaves before the split and never revisits: its out-of-sample cells say
// n/a.
func TestRangeNeverEnteredIsNotApplicable(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"-modes", "long", "-bounds", "94000-98000,100000-110000", "-intervals", "20", "-amounts", "300", "-windows", "10",
		"-geometric", "false", "-split", "2025-05-25", "-metric", "sharpe"}
	require.NoError(t, run(context.Background(), args, &out, &errOut))
	s := out.String()
	assert.Contains(t, s, "Ranked by sharpe on 2025-05-04 15:33 → 2025-05-25 00:00")
	var na string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "94000-98000/20") {
			na = l
		}
	}
	assert.True(t, strings.HasSuffix(na, "| n/a | n/a | n/a | n/a |"), na)
}

// TestNoSplitRanksEverything checks -split none: no out-of-sample columns.
func TestNoSplitRanksEverything(t *testing.T) {
	var out, errOut bytes.Buffer
	require.NoError(t, run(context.Background(), append([]string{"-split", "none", "-metric", "drawdown"}, small...), &out, &errOut))
	assert.Contains(t, out.String(), "Ranked by drawdown on 2025-05-04 15:33 → 2025-06-03 15:32 (43199 candles).")
	assert.NotContains(t, out.String(), "OOS")
}

// TestSweepChargesTheShippedFunding: on the shipped month every run is
// charged the month's real funding settlements by default, as
// examples/backtest charges them; long grids pay the month's positive
// rates, so each ranks lower than with -funding none.
func TestSweepChargesTheShippedFunding(t *testing.T) {
	returns := func(args ...string) (string, []string) {
		var out, errOut bytes.Buffer
		require.NoError(t, run(context.Background(), append(args, small...), &out, &errOut))
		var rs []string
		for _, l := range strings.Split(out.String(), "\n") {
			if cells := strings.Split(l, " | "); strings.HasPrefix(l, "| ") && len(cells) > 7 && cells[0] != "| #" && !strings.HasPrefix(l, "|--") {
				rs = append(rs, cells[2]+" "+cells[6])
			}
		}
		return out.String(), rs
	}
	funded, withFunding := returns()
	assert.Contains(t, funded, "\nfunding: real settlements of "+cli.FundingFile+"; taker orders slip 1 bp\n")
	free, without := returns("-funding", "none")
	assert.Contains(t, free, "\nfunding: none; taker orders slip 1 bp\n")
	require.Len(t, withFunding, 3)
	require.Len(t, without, 3)
	// Without funding the table is ExampleSweep's (grid/backtest), which
	// charges none.
	assert.Equal(t, []string{"95000-110000/40 7.56", "90000-115000/40 6.60", "95000-110000/20 3.93"}, without)
	assert.Equal(t, []string{"95000-110000/40 7.46", "90000-115000/40 6.48", "95000-110000/20 3.88"}, withFunding)
}

func TestBadFlagsAreUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-modes", "long,sideways"}, `-modes: grid mode "sideways": want long, short or neutral`},
		{[]string{"-bounds", "100000"}, `-bounds "100000": want lower-upper, such as 90000-115000`},
		{[]string{"-bounds", "110000-100000"}, "-bounds 110000-100000: lower must be positive and below upper"},
		{[]string{"-intervals", "ten"}, `-intervals "ten" is not a whole number`},
		{[]string{"-leverages", "200"}, "-leverages 200 must be 1 to 125"},
		{[]string{"-amounts", "-5"}, "-amounts -5 must be positive"},
		{[]string{"-geometric", "maybe"}, `-geometric "maybe": want true or false`},
		{[]string{"-metric", "profit"}, `-metric: metric "profit": want return, sharpe, sortino, calmar, drawdown, roundtrips`},
		{[]string{"-top", "0", "-workers", "-1"}, "-top 0 must be positive; -workers -1 must not be negative"},
		{[]string{"-bounds", "", "-trailing", ""}, "give Bounds and Levels (bounded grids) or Trailing and LayerCaps (trailing grids)"},
		{[]string{"-split", "1.5"}, "-split 1.5: must be a fraction between 0 and 1"},
		{[]string{"-split", "2024-01-01"}, "-split 2024-01-01 is outside the data (2025-05-04 15:33 to 2025-06-03 15:31 UTC)"},
		{[]string{"-split", "soon"}, `-split "soon": want a fraction such as 0.7`},
		{[]string{"-data", "/no/such.csv"}, `-data "/no/such.csv": no such file`},
		{[]string{"-funding", "/no/such.csv"}, `-funding "/no/such.csv": no such file`},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errOut)
		require.True(t, cli.IsUsage(err), "%v: %v", tc.args, err)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
	}
}

// TestCanceledSweepStops checks that a canceled context ends the sweep
// with its error and every worker stopped (goleak in TestMain).
func TestCanceledSweepStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, small, &out, &errOut)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, out.String())
}

// TestDefaultSweepCommand runs the built command with no flags, as a new
// user would: at least 200 combinations ranked, the out-of-sample column
// filled, nothing on stderr (not a terminal), and a bad flag exits 2.
func TestDefaultSweepCommand(t *testing.T) {
	bin := clitest.Build(t, "sweep")
	cmd := exec.Command(bin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	assert.Empty(t, stderr.String())
	s := string(out)
	assert.Contains(t, s, "gridmesh sweep — BTCUSDT, 288 combinations, workers ")
	assert.Contains(t, s, "| OOS return |")
	assert.Contains(t, s, "\n| 10 | ")
	assert.NotContains(t, s, "\n| 11 | ", "-top 10")
	clitest.UsageFails(t, exec.Command(bin, "-metric", "luck"), "luck")
}
