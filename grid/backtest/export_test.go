package backtest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid"
)

func readCSV(t *testing.T, b []byte, header []string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, rows)
	require.Equal(t, header, rows[0])
	return rows[1:]
}

// TestTradesCSVReadsBack writes the hand grid's fills and reads every
// column back into the recorded Trade.
func TestTradesCSVReadsBack(t *testing.T) {
	res := handRun(t)
	var buf bytes.Buffer
	require.NoError(t, res.WriteTradesCSV(&buf))
	assert.True(t, bytes.HasPrefix(buf.Bytes(), []byte("time,level,level_price,side,role,price,quantity,fee,realized,maker,round_trip,trip_net\n")))
	rows := readCSV(t, buf.Bytes(), TradeColumns)
	require.Len(t, rows, len(res.Trades))
	assert.Equal(t, []string{"2023-11-14T22:13:20.000Z", "initial", "", "BUY", "entry", "102", "1", "0.051", "0", "false", "false", ""}, rows[0])
	assert.Equal(t, "exit", rows[2][4])
	assert.Equal(t, "4.959", rows[2][11])
	for i, row := range rows {
		want := res.Trades[i]
		at, err := time.Parse(TimeFormat, row[0])
		require.NoError(t, err)
		assert.True(t, at.Equal(want.Time), "row %d time", i)
		if row[1] == "initial" {
			assert.Equal(t, grid.InitialLevel, want.Level)
		} else {
			lv, err := strconv.ParseInt(row[1], 10, 64)
			require.NoError(t, err)
			assert.Equal(t, want.Level, lv)
			assert.Equal(t, want.LevelPrice.String(), row[2])
		}
		var role Role
		require.NoError(t, role.UnmarshalText([]byte(row[4])))
		assert.Equal(t, want.Role, role)
		assert.Equal(t, want.Side.String(), row[3])
		for j, d := range []decimal.Decimal{want.Price, want.Qty, want.Fee, want.Realized} {
			got, err := decimal.NewFromString(row[5+j])
			require.NoError(t, err)
			assert.True(t, got.Equal(d), "row %d column %s", i, TradeColumns[5+j])
		}
		assert.Equal(t, strconv.FormatBool(want.Maker), row[9])
		assert.Equal(t, strconv.FormatBool(want.RoundTrip), row[10])
	}
}

// TestTradesCSVNamesLiquidations checks the level column of trades that
// belong to no level.
func TestTradesCSVNamesLiquidations(t *testing.T) {
	res := Result{Trades: []Trade{
		{Time: time.UnixMilli(0), Role: RoleLiquidation, Side: exchange.Sell, Price: dec("1"), Qty: dec("2")},
		{Time: time.UnixMilli(0), Role: RoleExit, Level: grid.CloseLevel, Side: exchange.Sell, Price: dec("1"), Qty: dec("2")},
	}}
	var buf bytes.Buffer
	require.NoError(t, res.WriteTradesCSV(&buf))
	rows := readCSV(t, buf.Bytes(), TradeColumns)
	assert.Equal(t, []string{"", "liquidation"}, []string{rows[0][1], rows[0][4]})
	assert.Equal(t, []string{"close", "exit"}, []string{rows[1][1], rows[1][4]})
}

// TestEquityCSVReadsBack checks the equity samples' columns, the
// buy-and-hold and drawdown derived from them, and the recorded extras.
func TestEquityCSVReadsBack(t *testing.T) {
	res := handRun(t) // EquityEvery 1: a sample per candle
	var buf bytes.Buffer
	require.NoError(t, res.WriteEquityCSV(&buf))
	rows := readCSV(t, buf.Bytes(), EquityColumns)
	require.Len(t, rows, 4)
	peak := res.InitialBalance
	for i, row := range rows {
		p := res.Equity[i]
		at, err := time.Parse(TimeFormat, row[0])
		require.NoError(t, err)
		assert.True(t, at.Equal(p.Time))
		assert.Equal(t, p.Price.String(), row[1])
		assert.Equal(t, p.Equity.String(), row[2])
		bh := res.InitialBalance.Mul(p.Price).Div(res.OpenPrice).Round(8)
		assert.Equal(t, bh.String(), row[3])
		peak = decimal.Max(peak, p.Equity)
		assert.Equal(t, peak.Sub(p.Equity).String(), row[4])
		assert.Equal(t, res.Series.Samples[i].Position.String(), row[6])
		assert.Equal(t, res.Series.Samples[i].Margin.String(), row[7])
		assert.Equal(t, "0", row[8])
	}
	// The first close: 999.929, below the initial 1000 by 0.071 = 0.0071 %.
	assert.Equal(t, []string{"999.929", "0.071", "0.0071", "2"}, []string{rows[0][2], rows[0][4], rows[0][5], rows[0][6]})
	// The last sample is the final equity, and buy and hold is the Result's.
	assert.Equal(t, res.FinalEquity.String(), rows[3][2])
	assert.Equal(t, res.BuyAndHold.String(), rows[3][3])
}

// TestJSONReadsBack decodes the JSON export into a Result and checks that
// it encodes to the same bytes and holds the same numbers.
func TestJSONReadsBack(t *testing.T) {
	res := handRun(t)
	var buf bytes.Buffer
	require.NoError(t, res.WriteJSON(&buf))
	var back Result
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	var again bytes.Buffer
	require.NoError(t, back.WriteJSON(&again))
	assert.JSONEq(t, buf.String(), again.String())
	assert.True(t, back.FinalEquity.Equal(res.FinalEquity))
	assert.True(t, back.Fees.Equal(res.Fees))
	assert.Equal(t, res.RoundTrips, back.RoundTrips)
	require.Len(t, back.Trades, len(res.Trades))
	assert.Equal(t, RoleExit, back.Trades[2].Role)
	assert.True(t, back.Trades[2].TripNet.Equal(dec("4.959")))
	require.Len(t, back.Series.Buckets, 4)
	assert.True(t, back.Series.Buckets[0].Equity.Equal(dec("999.929")))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &raw))
	assert.Equal(t, "1014.806", raw["FinalEquity"], "decimals are exact strings")
	assert.Equal(t, "exit", raw["Trades"].([]any)[2].(map[string]any)["Role"])
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestExportsReportWriteErrors checks that a failing writer's error comes
// back from every export, wrapped.
func TestExportsReportWriteErrors(t *testing.T) {
	res := handRun(t)
	for name, write := range map[string]func() error{
		"trades": func() error { return res.WriteTradesCSV(failWriter{}) },
		"equity": func() error { return res.WriteEquityCSV(failWriter{}) },
		"json":   func() error { return res.WriteJSON(failWriter{}) },
		"html":   func() error { return res.WriteHTML(failWriter{}) },
	} {
		err := write()
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "disk full", name)
		assert.Contains(t, err.Error(), "backtest: ", name)
	}
}
