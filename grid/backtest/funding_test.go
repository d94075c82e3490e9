package backtest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

func minute(m int64) time.Time { return time.UnixMilli(1_700_000_000_000 + m*60_000) }

func handSim(t *testing.T) sim.CoreConfig {
	sc := sim.DefaultCoreConfig(handRules)
	var err error
	sc.InitialBalance, err = handRules.DecimalToMoney(dec("1000"))
	require.NoError(t, err)
	return sc
}

// TestFundingLongHandComputed charges two recorded settlements on the
// long grid of TestHandComputedLongGrid. At minute 1 the grid holds 2
// (the initial 1 and the buy at 100); no markPrice, so the mark is that
// candle's close, 106: pays 2 × 106 × 0.01 % = 0.0212. At minute 3 it
// holds 3 (the buys at 105, 100, 95 of candle 2), markPrice 96.5, rate
// −0.03 %: receives 3 × 96.5 × 0.03 % = 0.08685. Funding −0.06565, so
// equity 1014.806 + 0.06565.
func TestFundingLongHandComputed(t *testing.T) {
	candles := []pricefeed.Candle{
		candle(t, 0, "102", "103", "99", "101"),
		candle(t, 1, "101", "106", "100.5", "106"),
		candle(t, 2, "106", "111", "94", "96"),
		candle(t, 3, "96", "101", "96", "101"),
	}
	res, err := Run(candles, Config{Rules: handRules, Sim: handSim(t), Slippage: &Slippage{}, Grid: []grid.Option{
		grid.WithBounds(dec("90"), dec("110"), 4), grid.WithQuantity(dec("1")),
	}, Funding: Funding{Settlements: []Settlement{
		{Time: minute(1), Rate: dec("0.0001")},
		{Time: minute(3), Rate: dec("-0.0003"), MarkPrice: dec("96.5")},
		{Time: minute(9), Rate: dec("0.01")}, // after the last candle: not charged
	}}})
	require.NoError(t, err)
	assert.Equal(t, 2, res.FundingPayments)
	assert.Equal(t, "-0.06565", res.Funding.String())
	assert.Equal(t, "0.194", res.Fees.String())
	assert.Equal(t, "17.87165", res.NetRealized.String())
	assert.Equal(t, "1014.87165", res.FinalEquity.String())
}

// TestFundingShortHandComputed: a short grid over levels 90…110 starting
// at 102 sells 2 at once (slots 100 and 95); a constant 0.01 % every
// minute, marked at each candle's close. The shorts receive
// 2 × 102, 2 × 99, 2 × 106 (before the sell at 105 of minute 2), then
// 3 × 106, × 0.01 %: 0.0204 + 0.0198 + 0.0212 + 0.0318 = 0.0932.
func TestFundingShortHandComputed(t *testing.T) {
	candles := []pricefeed.Candle{
		candle(t, 0, "102", "102", "102", "102"),
		candle(t, 1, "102", "102", "99", "99"),
		candle(t, 2, "99", "106", "99", "106"),
		candle(t, 3, "106", "106", "106", "106"),
	}
	res, err := Run(candles, Config{Rules: handRules, Sim: handSim(t), Slippage: &Slippage{}, Grid: []grid.Option{
		grid.WithMode(grid.Short), grid.WithBounds(dec("90"), dec("110"), 4), grid.WithQuantity(dec("1")),
	}, Funding: Funding{Rate: dec("0.0001"), Interval: time.Minute}})
	require.NoError(t, err)
	assert.Equal(t, "-3", res.Position.String())
	assert.Equal(t, 4, res.FundingPayments)
	assert.Equal(t, "-0.0932", res.Funding.String())
}

// TestFundingHedgeHandComputed: a neutral grid in hedge mode. Minute 1
// falls to 99 and buys 1 on LONG at 100; at minute 2 (rate 0.01 %, close
// 106) the LONG side pays 1 × 106 × 0.01 % = 0.0106. Minute 2 rises to
// 106: the long exits at 105 and a short entry sells 1 on SHORT; at
// minute 3 (rate 0.03 %, close 106) the SHORT side receives
// 1 × 106 × 0.03 % = 0.0318. Funding −0.0212.
func TestFundingHedgeHandComputed(t *testing.T) {
	candles := []pricefeed.Candle{
		candle(t, 0, "102", "102", "102", "102"),
		candle(t, 1, "102", "102", "99", "99"),
		candle(t, 2, "99", "106", "99", "106"),
		candle(t, 3, "106", "106", "106", "106"),
	}
	sc := handSim(t)
	sc.PositionMode = exchange.Hedge
	res, err := Run(candles, Config{Rules: handRules, Sim: sc, Slippage: &Slippage{}, Grid: []grid.Option{
		grid.WithMode(grid.Neutral), grid.WithPositionMode(exchange.Hedge),
		grid.WithBounds(dec("90"), dec("110"), 4), grid.WithQuantity(dec("1")),
	}, Funding: Funding{Settlements: []Settlement{
		{Time: minute(2), Rate: dec("0.0001")},
		{Time: minute(3), Rate: dec("0.0003")},
	}}})
	require.NoError(t, err)
	assert.Equal(t, "-1", res.Position.String())
	assert.Equal(t, "-0.0212", res.Funding.String())
	assert.Equal(t, res.InitialBalance.Add(res.NetRealized).Add(res.Unrealized).String(), res.FinalEquity.String())
}

func TestReadFundingCSV(t *testing.T) {
	text := "calc_time,funding_interval_hours,last_funding_rate\n1746316800001,8,0.00000370\n1746345600016,8,-0.00003229\n1746360000003,4,0.00010000\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(text))
	require.NoError(t, zw.Close())
	for name, in := range map[string]string{"plain": text, "gzip": gz.String(), "headerless": text[strings.IndexByte(text, '\n')+1:]} {
		ss, err := ReadFunding(strings.NewReader(in))
		require.NoError(t, err, name)
		require.Len(t, ss, 3, name)
		assert.Equal(t, "2025-05-04T00:00:00Z", ss[0].Time.Format(time.RFC3339), "rounded to the 8 h boundary")
		assert.Equal(t, "2025-05-04T08:00:00Z", ss[1].Time.Format(time.RFC3339))
		assert.Equal(t, "2025-05-04T12:00:00Z", ss[2].Time.Format(time.RFC3339), "a 4 h interval")
		assert.Equal(t, 4*time.Hour, ss[2].Interval)
		assert.Equal(t, "-0.00003229", ss[1].Rate.String())
		assert.True(t, ss[0].MarkPrice.IsZero())
	}
	for _, tc := range []struct{ in, want string }{
		{"1746316800001,8\n", "line 1: 2 fields"},
		{"x,8,0.0001\n", `line 1: calc_time "x" is not a positive time in ms`},
		{"1746316800001,0,0.0001\n", `funding_interval_hours "0" is not a whole number of hours`},
		{"1746316800001,8,abc\n", `line 1: rate "abc" is not a decimal`},
		{"1746316800001,8,0.000000001\n", "has more than 8 decimals"},
		{"1746318600000,8,0.0001\n", "line 1: time 1746318600000 is 1800000 ms from the nearest 8h0m0s boundary"},
		{"1746345600001,8,0.0001\n1746316800001,8,0.0001\n", "line 2: calc_time \"1746316800001\" is not after the previous settlement 2025-05-04T08:00:00Z"},
		{"calc_time,funding_interval_hours,last_funding_rate\n", "no settlements"},
		{"", "empty"},
	} {
		_, err := ReadFunding(strings.NewReader(tc.in))
		require.ErrorIs(t, err, ErrFundingData, tc.in)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestReadFundingJSON(t *testing.T) {
	in := `[{"symbol":"BTCUSDT","fundingTime":1746316800001,"fundingRate":"0.00000370","markPrice":"95809.51234567"},
	{"symbol":"BTCUSDT","fundingTime":1746345600000,"fundingRate":"-0.00010000","markPrice":""}]`
	ss, err := ReadFunding(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, ss, 2)
	assert.Equal(t, "BTCUSDT", ss[0].Symbol)
	assert.Equal(t, "2025-05-04T00:00:00Z", ss[0].Time.Format(time.RFC3339))
	assert.Equal(t, 8*time.Hour, ss[1].Interval, "the gap to the previous settlement")
	assert.Equal(t, "0.0000037", ss[0].Rate.String())
	assert.Equal(t, "95809.51234567", ss[0].MarkPrice.String())
	assert.True(t, ss[1].MarkPrice.IsZero(), "an empty markPrice: the candle's close")
	for _, tc := range []struct{ in, want string }{
		{`[{"fundingTime":"x","fundingRate":"0.0001"}]`, `record 0: fundingTime "x" is not a positive time in ms`},
		{`[{"fundingTime":1746316800001,"fundingRate":"0.0001","markPrice":"-1"}]`, `record 0: markPrice "-1" is not a price`},
		{`[{"fundingTime":1746316800001,"fundingRate":"z"}]`, `record 0: rate "z" is not a decimal`},
		{`[]`, "no settlements"},
		{`[{]`, "invalid character"},
	} {
		_, err := ReadFunding(strings.NewReader(tc.in))
		require.ErrorIs(t, err, ErrFundingData, tc.in)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestFundingConfigErrors(t *testing.T) {
	candles := []pricefeed.Candle{candle(t, 0, "102", "102", "102", "102")}
	for _, tc := range []struct {
		f    Funding
		want string
	}{
		{Funding{Rate: dec("0.000000001")}, "backtest: Funding.Rate: rate 0.000000001 has more than 8 decimals"},
		{Funding{Rate: dec("0.0001"), Interval: time.Second}, "backtest: Funding.Interval 1s must be a whole number of minutes"},
		{Funding{Settlements: []Settlement{{Symbol: "ETHUSDT", Time: minute(0), Rate: dec("0.0001")}}}, "backtest: Funding.Settlements[0] is for ETHUSDT, not TESTUSDT"},
		{Funding{Settlements: []Settlement{{Time: minute(1)}, {Time: minute(0)}}}, "backtest: Funding.Settlements[1].Time 2023-11-14T22:13:20Z is not after the previous one"},
	} {
		_, err := Run(candles, Config{Rules: handRules, Sim: handSim(t), Funding: tc.f, Grid: []grid.Option{
			grid.WithBounds(dec("90"), dec("110"), 4), grid.WithQuantity(dec("1"))}})
		require.Error(t, err)
		assert.EqualError(t, err, tc.want)
	}
}

// TestShippedFundingOnTheShippedMonth applies the real BTCUSDT settlements
// shipped with the month to the example's default grid: every settlement
// within the candles is charged (2025-05-04 16:00 → 2025-06-03 08:00 UTC:
// 1 + 29 × 3 + 2 = 90 of the file's 93).
func TestShippedFundingOnTheShippedMonth(t *testing.T) {
	ss, err := ReadFundingFile(shippedFunding)
	require.NoError(t, err)
	require.Len(t, ss, 93)
	assert.Equal(t, "BTCUSDT", ss[0].Symbol, "from the file name")
	res := btcMonthFunded(t, Funding{Settlements: ss})
	assert.Equal(t, 90, res.FundingPayments)
	assert.True(t, res.Funding.IsPositive(), "a long grid pays the month's positive rates: %s", res.Funding)
	assert.Equal(t, res.Realized.Sub(res.Fees).Sub(res.Funding).String(), res.NetRealized.String())
	assert.Equal(t, res.InitialBalance.Add(res.NetRealized).Add(res.Unrealized).String(), res.FinalEquity.String())
}

// FuzzReadFunding: any input gives settlements or an ErrFundingData error,
// never a panic; settlements are in increasing time on whole boundaries.
func FuzzReadFunding(f *testing.F) {
	f.Add([]byte("calc_time,funding_interval_hours,last_funding_rate\n1746316800001,8,0.00000370\n"))
	f.Add([]byte(`[{"symbol":"BTCUSDT","fundingTime":1746316800001,"fundingRate":"0.00000370","markPrice":"95809.5"}]`))
	f.Add([]byte("1746316800001,4,-0.0001\n1746331200000,4,0.0001\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, err := ReadFunding(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrFundingData) {
				t.Fatalf("error %v does not match ErrFundingData", err)
			}
			return
		}
		for i, s := range ss {
			if s.Time.UnixMilli()%time.Hour.Milliseconds() != 0 {
				t.Fatalf("settlement %d at %v: not on an hour", i, s.Time)
			}
			if i > 0 && !s.Time.After(ss[i-1].Time) {
				t.Fatalf("settlement %d not after the previous", i)
			}
		}
	})
}
