package main

import (
	"bytes"
	"os/exec"
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
		"gridmesh backtest — BTCUSDT long grid (bounded 90000–115000, 50 intervals), 200 per order, window 10",
		"candles                          43199",
		"round trips                      250",
		"realized net of fees             396.54",
		"final equity                     10452.51",
		"liquidations                     0",
	} {
		assert.Contains(t, s, want)
	}
	var again bytes.Buffer
	require.NoError(t, run(nil, &again, &errOut))
	assert.Equal(t, s, again.String(), "identical run to run")
}

func TestBadFlagsAreUsageErrors(t *testing.T) {
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
	} {
		var out, errOut bytes.Buffer
		err := run(tc.args, &out, &errOut)
		require.True(t, cli.IsUsage(err), "%v: %v", tc.args, err)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
	}
}

// TestExitCodeTwo runs the command itself: a bad flag exits with status 2.
func TestExitCodeTwo(t *testing.T) {
	bin := clitest.Build(t, "backtest")
	clitest.UsageFails(t, exec.Command(bin, "-mode", "sideways"), "sideways")
}
