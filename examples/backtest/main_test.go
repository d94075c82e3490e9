package main

import (
	"bytes"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/examples/internal/clitest"
)

func TestDefaultRunPrintsSummary(t *testing.T) {
	var out, errOut bytes.Buffer
	require.NoError(t, run(nil, &out, &errOut))
	s := out.String()
	for _, want := range []string{
		"gridmesh backtest — BTCUSDT long grid (bounded 90000–115000, 25 intervals), 1200 per order, window 10",
		"venue: cross margin (checked), leverage 5, fees 0.0002 maker / 0.0005 taker, market orders slip 1 bp",
		"funding: real settlements of BTCUSDT-fundingRate-2025-05-04_2025-06-03.csv, marked at the close of the candle containing each settlement",
		"candles                           43199",
		"round trips                       60",
		"refused for margin                0",
		"fees                              35.53",
		"funding                           50.77 (90 settlements; negative: received)",
		"slippage paid                     2.01",
		"realized net of fees and funding  1814.66",
		"final equity                      12183.37",
		"liquidations                      0",
	} {
		assert.Contains(t, s, want)
	}
	assert.Empty(t, errOut.String(), "the default run is warning-free")
	var again bytes.Buffer
	require.NoError(t, run(nil, &again, &errOut))
	assert.Equal(t, s, again.String(), "identical run to run")
}

// writeFile writes a test input file and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

// TestBadFlagsAreUsageErrors: every error a flag causes is a usage error
// (exit status 2), one line, in the flag's units.
func TestBadFlagsAreUsageErrors(t *testing.T) {
	eth := writeFile(t, "ETHUSDT-fundingRate-2025-05.csv", "calc_time,funding_interval_hours,last_funding_rate\n1746316800001,8,0.0001\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-mode", "sideways"}, `-mode: grid mode "sideways": want long, short or neutral`},
		{[]string{"-amount", "lots"}, `-amount "lots" is not a decimal number`},
		{[]string{"-leverage", "0"}, "-leverage 0 must be 1 to 125"},
		{[]string{"-data", "/no/such.csv"}, `-data "/no/such.csv": no such file`},
		{[]string{"-lower", "120000"}, "grid: WithBounds = 120000..115000: upper must be above lower"},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-amount", "50"}, "-amount 50 is too small for the symbol's rules (-min-qty 0.001, -min-notional 100): grid: level 0 at 90000: quantity 0 is below the minimum 0.001 (and 20 more like it)"},
		{[]string{"-maker-fee", "5"}, "-maker-fee 5 must lie between -1 and 1 (0.0002 is 0.02 %)"},
		{[]string{"-taker-fee", "0.000000001"}, "-taker-fee 0.000000001: rate 0.000000001 has more than 8 decimals"},
		{[]string{"-balance", "0.00001"}, "-balance 0.00001 is not a positive amount in units of 0.0001 (tick × step)"},
		{[]string{"-margin-mode", "foo"}, `-margin-mode "foo": want cross or isolated`},
		{[]string{"-slippage", "-1"}, "-slippage -1 must be from 0 to 10000 basis points"},
		{[]string{"-slippage-ticks", "-1"}, "-slippage-ticks -1 must not be negative"},
		{[]string{"-from", "May 20"}, `-from "May 20" is not a date (2025-05-20) or a time (2025-05-20T12:00, UTC)`},
		{[]string{"-from", "2025-05-20", "-to", "2025-05-19"}, "-to 2025-05-19 must be after -from 2025-05-20"},
		{[]string{"-from", "2026-01-01"}, `-from "2026-01-01" -to "" select no candle: binance-um_BTCUSDT_1m_2025-05-04_2025-06-03.csv.gz has candles from 2025-05-04 15:33 to 2025-06-03 15:31 UTC`},
		{[]string{"-funding", "/no/such.csv"}, `-funding "/no/such.csv": no such file`},
		{[]string{"-funding", eth}, "-funding: Funding.Settlements[0] is for ETHUSDT, not BTCUSDT"},
		{[]string{"-funding", writeFile(t, "f.csv", "1746316800001,8,x\n")}, `-funding: f.csv: funding data: line 1: rate "x" is not a decimal`},
		{[]string{"-funding-rate", "2"}, "-funding-rate 2 must lie between -1 and 1 with at most 8 decimals"},
		{[]string{"-funding-rate", "0.0001", "-funding", eth}, "give -funding or -funding-rate, not both"},
		{[]string{"-funding-interval", "0"}, "-funding-interval 0 must be 1 to 24 hours"},
		{[]string{"-brackets", writeFile(t, "b.json", `{"symbol":"BTCUSDT","brackets":[{"notionalCap":10,"notionalFloor":5,"maintMarginRatio":0.004,"cum":0}]}`)}, "-brackets: b.json: bracket data: bracket 1: notionalFloor 5 is not the previous cap 0"},
		{[]string{"-brackets", writeFile(t, "c.json", `{"symbol":"BTCUSDT","brackets":[{"notionalCap":10,"notionalFloor":0,"maintMarginRatio":0.004,"cum":0},{"notionalCap":20,"notionalFloor":10,"maintMarginRatio":0.01,"cum":9}]}`)}, "-brackets: c.json: bracket data: bracket 2: cum 9 is not 0 + 10 × (0.01 − 0.004) = 0.06"},
		{[]string{"-mode", "neutral", "-lower", "100000", "-upper", "110000"}, "-lower 100000 -upper 110000: the price opens at 95505.4, outside the range, and a neutral grid must start inside it"},
	} {
		var out, errOut bytes.Buffer
		err := run(tc.args, &out, &errOut)
		require.True(t, cli.IsUsage(err), "%v: %v", tc.args, err)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
		assert.NotContains(t, err.Error(), "\n", "%v: one line", tc.args)
		assert.Equal(t, 1, strings.Count(cli.Message("backtest", err), "backtest:"), "%v: one prefix", tc.args)
	}
}

// TestWarnings: input a trader can get wrong is said on stderr, and the
// run goes on.
func TestWarnings(t *testing.T) {
	spiky := writeFile(t, "spiky.csv", "open_time,open,high,low,close,volume\n"+
		"1746372780000,95505.4,95505.5,95502.7,95502.7,1\n"+
		"1746372840000,95502.8,955028,95478,95478.1,1\n"+
		"1746372900000,95478.1,95500,95470,95490,1\n")
	short := writeFile(t, "BTCUSDT-fundingRate-short.csv", "calc_time,funding_interval_hours,last_funding_rate\n1746374400000,8,0.0001\n1746403200000,8,0.0001\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-amount", "200"}, "backtest: warning: -amount 200: flooring each order to the step 0.001 puts 15 of 26 levels more than 10% off the amount (levels 101000, 102000, 103000, …, 113000, 114000, 115000: notional 101 to 115)"},
		{[]string{"-taker-fee", "-0.0001"}, "backtest: warning: -taker-fee -0.0001 is negative"},
		{[]string{"-tick", "300"}, "backtest: warning: -tick 300 is coarse for these levels: rounding moves a level by up to 10% of its 1000 spacing"},
		{[]string{"-mode", "short", "-lower", "10000", "-upper", "20000"}, "backtest: warning: the price (93327 … 111959.5) never enters the grid's range -lower 10000 … -upper 20000"},
		{[]string{"-balance", "1"}, "backtest: warning: the venue refused"},
		{[]string{"-data", spiky, "-lower", "90000", "-upper", "100000", "-intervals", "10"}, "backtest: warning: 1 candle(s) more than 3× their neighbours, likely bad prints: 2025-05-04 15:34 UTC at 955028 (neighbours closed at 95502.7 and 95490)"},
		{[]string{"-data", spiky, "-lower", "90000", "-upper", "100000", "-intervals", "10"}, "backtest: warning: no funding is charged"},
		{[]string{"-funding", short}, "backtest: warning: the funding data (2025-05-04 16:00 → 2025-05-05 00:00 UTC) covers 2 of the run's 90 settlements"},
	} {
		var out, errOut bytes.Buffer
		require.NoError(t, run(tc.args, &out, &errOut), "%v", tc.args)
		assert.Contains(t, errOut.String(), tc.want, "%v", tc.args)
		assert.Contains(t, out.String(), "final equity", "%v: the run goes on", tc.args)
	}
}

// TestDocCommandsRun runs every command line of the package doc: each must
// succeed on the shipped data (regression: the neutral example's range
// once excluded the data's opening price and exited 2).
func TestDocCommandsRun(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	require.NoError(t, err)
	n := 0
	for _, line := range strings.Split(f.Doc.Text(), "\n") {
		args, ok := strings.CutPrefix(strings.TrimSpace(line), "go run ./examples/backtest")
		if !ok || strings.Contains(args, "-h") {
			continue
		}
		n++
		fields := strings.Fields(args)
		// Output files go to a temporary folder, not the package's.
		dir := t.TempDir()
		for i := 1; i < len(fields); i++ {
			switch fields[i-1] {
			case "-report", "-trades", "-equity", "-json":
				fields[i] = filepath.Join(dir, fields[i])
			}
		}
		var out, errOut bytes.Buffer
		require.NoError(t, run(fields, &out, &errOut), "%s", line)
		assert.Empty(t, errOut.String(), "%s: warning-free", line)
	}
	assert.Equal(t, 4, n)
	for _, name := range []string{"out.html", "t.csv", "e.csv", "r.json"} {
		_, err := os.Stat(name)
		assert.True(t, os.IsNotExist(err), "%s: written to a temporary folder, not the package's", name)
	}
}

// TestExitCodeTwo runs the command itself: a bad flag exits with status 2,
// the level-rule error that -amount causes included, in one line.
func TestExitCodeTwo(t *testing.T) {
	bin := clitest.Build(t, "backtest")
	clitest.UsageFails(t, exec.Command(bin, "-mode", "sideways"), "sideways")
	clitest.UsageFails(t, exec.Command(bin, "-amount", "50"), "backtest: -amount 50 is too small")
	out, _ := exec.Command(bin, "-amount", "50").CombinedOutput()
	assert.Equal(t, 1, strings.Count(string(out), "\n"), "%s", out)
}

// TestLevelsFlagIsTheOldNameOfIntervals: -levels, which always meant
// intervals, still parses (deprecated) to the same setting.
func TestLevelsFlagIsTheOldNameOfIntervals(t *testing.T) {
	a, err := parseFlags([]string{"-levels", "12"}, io.Discard)
	require.NoError(t, err)
	b, err := parseFlags([]string{"-intervals", "12"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 12, a.intervals)
	assert.Equal(t, a, b)
}

// TestControlsFlags: the grid controls reach the engine and the report
// says where the run stopped; -rounding changes the sizing.
func TestControlsFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	require.NoError(t, run([]string{"-amount", "200", "-intervals", "50", "-take-profit", "100", "-funding", "none"}, &out, &errOut))
	assert.Contains(t, out.String(), "STOPPED")
	assert.Contains(t, out.String(), "2025-05-07 01:03 UTC: take-profit: PnL 103.8218 at or above 100 (PnL 100)")
	out.Reset()
	errOut.Reset()
	require.NoError(t, run([]string{"-amount", "200", "-rounding", "nearest"}, &out, &errOut))
	assert.NotContains(t, errOut.String(), "flooring each order")
	err := run([]string{"-rounding", "sideways", "-trigger-above", "1", "-trigger-below", "2"}, &out, &errOut)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `-rounding "sideways": want down, nearest or up`)
	assert.Contains(t, err.Error(), "-trigger-above and -trigger-below exclude each other")
	out.Reset()
	require.NoError(t, run([]string{"-amount", "200", "-intervals", "50", "-funding", "none", "-trend"}, &out, &errOut))
	assert.Contains(t, out.String(), "trend filter                      held one side's entries after 0 candles; none at the end",
		"the shipped BTCUSDT month never moves 1 % between its 20- and 60-minute averages")
	err = run([]string{"-trigger-below", "101000"}, &out, &errOut)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "grid: WithStartTrigger = price ≤ 101000: the start price 95505.4 already meets it")
}
