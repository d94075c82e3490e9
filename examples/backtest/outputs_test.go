package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/examples/internal/clitest"
	"github.com/gridmesh/gridmesh/grid/backtest"
)

// TestWritesReportAndExports runs the default backtest with every output
// flag and reads each file back: the report as XML with the summary's
// final equity and funding, the two CSVs by their headers, the JSON as a
// Result; each holds the printed summary's numbers (the default run's, see
// TestDefaultRunPrintsSummary: real funding, 1 bp slippage, margin
// checked).
func TestWritesReportAndExports(t *testing.T) {
	dir := t.TempDir()
	path := func(n string) string { return filepath.Join(dir, n) }
	var out, errOut bytes.Buffer
	require.NoError(t, run([]string{"-report", path("out.html"), "-trades", path("t.csv"), "-equity", path("e.csv"), "-json", path("r.json")}, &out, &errOut))
	assert.Empty(t, errOut.String(), "no progress line off a terminal")
	for _, f := range []string{"out.html (-report)", "t.csv (-trades)", "e.csv (-equity)", "r.json (-json)"} {
		assert.Contains(t, out.String(), "wrote "+path(f))
	}

	b, err := os.ReadFile(path("r.json"))
	require.NoError(t, err)
	var res backtest.Result
	require.NoError(t, json.Unmarshal(b, &res))
	assert.Equal(t, "12183.37", res.FinalEquity.StringFixed(2), "the summary's final equity")
	assert.Contains(t, out.String(), "final equity                      "+res.FinalEquity.StringFixed(2))
	assert.Equal(t, 60, res.RoundTrips)
	assert.Contains(t, out.String(), "funding                           "+res.Funding.StringFixed(2)+" (90 settlements")
	assert.Equal(t, 90, res.FundingPayments)

	html, err := os.ReadFile(path("out.html"))
	require.NoError(t, err)
	d := xml.NewDecoder(bytes.NewReader(html))
	cell, cells, svgs := "", map[string]string{}, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		switch e := tok.(type) {
		case xml.StartElement:
			if e.Name.Local == "svg" {
				svgs++
			}
			for _, a := range e.Attr {
				if e.Name.Local == "td" && a.Name.Local == "id" {
					cell = a.Value
				}
			}
		case xml.CharData:
			if cell != "" {
				cells[cell] += string(e)
			}
		case xml.EndElement:
			cell = ""
		}
	}
	assert.Equal(t, "12183.37", cells["final_equity"])
	assert.Equal(t, res.Funding.StringFixed(2), cells["funding"])
	assert.Equal(t, "90", cells["funding_payments"])
	assert.Equal(t, res.Slippage.StringFixed(2), cells["slippage"])
	assert.Equal(t, "none", cells["liquidated"])
	assert.Equal(t, 6, svgs)

	for name, header := range map[string][]string{"t.csv": backtest.TradeColumns, "e.csv": backtest.EquityColumns} {
		f, err := os.Open(path(name))
		require.NoError(t, err)
		rows, err := csv.NewReader(f).ReadAll()
		f.Close()
		require.NoError(t, err)
		assert.Equal(t, header, rows[0])
		switch name {
		case "t.csv":
			assert.Len(t, rows, len(res.Trades)+1)
			assert.Len(t, rows, int(res.Fills)+1, "every fill")
		case "e.csv":
			// Exact, as the Result's: the last row is the final equity and
			// the funding total, digit for digit.
			assert.Len(t, rows, len(res.Equity)+1)
			assert.Equal(t, res.FinalEquity.String(), rows[len(rows)-1][2])
			assert.Equal(t, res.Funding.String(), rows[len(rows)-1][8])
		}
	}
}

// TestUnwritableOutputIsAnError checks that a file that cannot be created
// fails the run naming the flag, after the summary.
func TestUnwritableOutputIsAnError(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run([]string{"-trades", "/no/such/dir/t.csv"}, &out, &errOut)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-trades /no/such/dir/t.csv: open /no/such/dir/t.csv")
	assert.Contains(t, out.String(), "final equity")
}

// TestQuietCommandWritesOnlyItsSummary runs the command with -quiet and
// stderr a pipe: nothing on stderr.
func TestQuietCommandWritesOnlyItsSummary(t *testing.T) {
	bin := clitest.Build(t, "backtest")
	report := filepath.Join(t.TempDir(), "r.html")
	cmd := exec.Command(bin, "-quiet", "-report", report)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	assert.Empty(t, stderr.String())
	assert.True(t, strings.HasSuffix(string(out), "wrote "+report+" (-report)\n"))
}
