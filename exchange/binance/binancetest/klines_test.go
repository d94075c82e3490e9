package binancetest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func near() Symbol {
	return Symbol{Name: "NEARUSDT", TickSize: decimal.RequireFromString("0.001"), StepSize: decimal.RequireFromString("1"),
		MinQty: decimal.RequireFromString("1"), MinPrice: decimal.RequireFromString("0.001"), MinNotional: decimal.RequireFromString("5"),
		PricePrecision: 4, QuantityPrecision: 0}
}

func klineRows(t *testing.T, s *Server, params string) [][]any {
	t.Helper()
	a := get(t, s, "/fapi/v1/klines", params)
	require.Equal(t, 200, a.status, a.body)
	var rows [][]any
	require.NoError(t, jsonUnmarshal(a.body, &rows))
	return rows
}

// TestKlinesFromRecordedFile seeds real NEARUSDT 1m candles and checks
// the 1h aggregation against sums computed with awk from the file.
func TestKlinesFromRecordedFile(t *testing.T) {
	f, err := os.Open("testdata/NEARUSDT-1m-2025-02-first2h.csv")
	require.NoError(t, err)
	defer f.Close()
	s := newFixed(t, WithSymbol(near()), WithKlineFile("NEARUSDT", "1m", f))
	rows := klineRows(t, s, "symbol=NEARUSDT&interval=1h")
	require.Len(t, rows, 2)
	assert.Equal(t, []any{1738368000000.0, "4.6190", "4.6490", "4.5870", "4.6470", "634337", 1738371599999.0,
		rows[0][7], 13839.0, rows[0][9], rows[0][10], "0"}, rows[0])
	assert.Equal(t, []any{1738371600000.0, "4.6480", "4.6850", "4.6420", "4.6420", "794675", 1738375199999.0,
		rows[1][7], 10895.0, rows[1][9], rows[1][10], "0"}, rows[1])
	q, _ := decimal.NewFromString(rows[0][7].(string))
	assert.True(t, q.Equal(decimal.RequireFromString("2926508.576")), "quote volume %s", q)
	// The first 1m row is the file's, every field.
	one := klineRows(t, s, "symbol=NEARUSDT&interval=1m&limit=1&startTime=0")
	assert.Equal(t, []any{1738368000000.0, "4.6190", "4.6190", "4.5990", "4.5990", "45002", 1738368059999.0, "207501.913", 1000.0, "10953", "50540.424", "0"}, one[0])
	// Unpriced symbols start at the last close.
	assert.Equal(t, "4.642", s.Price("NEARUSDT").String())
	// 2h and above: one candle holding both hours.
	for _, iv := range []string{"2h", "4h", "1d", "3d", "1w", "1M"} {
		r := klineRows(t, s, "symbol=NEARUSDT&interval="+iv)
		require.Len(t, r, 1, iv)
		assert.Equal(t, "1429012", r[0][5], iv)
		assert.Equal(t, 24734.0, r[0][8], iv)
	}
	// Finer than the seed: nothing to serve.
	assert.Empty(t, klineRows(t, s, "symbol=NEARUSDT&interval=1m&startTime=1738371600000&endTime=1738371600000")[1:])
}

// synthetic 1m history: candle i opens at o = 1000 + i%100, high o+5, low
// o-5, close o+1, volume 1, one trade.
func synthetic(start time.Time, n int) []Kline {
	out := make([]Kline, n)
	for i := range out {
		o := decimal.NewFromInt(int64(1000 + i%100))
		out[i] = Kline{OpenTime: start.Add(time.Duration(i) * time.Minute), Open: o, High: o.Add(decimal.NewFromInt(5)),
			Low: o.Sub(decimal.NewFromInt(5)), Close: o.Add(decimal.NewFromInt(1)), Volume: decimal.NewFromInt(1), Trades: 1}
	}
	return out
}

func TestKlinesEveryIntervalAtStart(t *testing.T) {
	start := fixedNow.Truncate(24 * time.Hour).Add(-3 * 24 * time.Hour)
	s := newFixed(t, WithKlines("BTCUSDT", "1m", synthetic(start, 3*24*60)))
	for _, iv := range intervals {
		t.Run(iv.name, func(t *testing.T) {
			rows := klineRows(t, s, "symbol=BTCUSDT&limit=1500&interval="+iv.name)
			require.NotEmpty(t, rows)
			vol := decimal.Zero
			for i, r := range rows {
				open, closeT := int64(r[0].(float64)), int64(r[6].(float64))
				assert.Equal(t, iv.open(open), open, "row %d not on a boundary", i)
				assert.Equal(t, iv.next(open)-1, closeT, "row %d close time", i)
				vol = vol.Add(decimal.RequireFromString(r[5].(string)))
				switch iv.name {
				case "1w":
					assert.Equal(t, time.Monday, time.UnixMilli(open).UTC().Weekday())
				case "1M":
					assert.Equal(t, 1, time.UnixMilli(open).UTC().Day())
				}
			}
			if iv.ms == 0 || iv.ms*1500 >= 3*dayMs {
				assert.Equal(t, "4320", vol.StringFixed(0), "every seeded candle counted once")
			}
		})
	}
	// 1h candle of the first hour, by hand: opens 1000..1059.
	r := klineRows(t, s, "symbol=BTCUSDT&interval=1h&limit=1&startTime="+strconv.FormatInt(start.UnixMilli(), 10))
	assert.Equal(t, []any{float64(start.UnixMilli()), "1000.00", "1064.00", "995.00", "1060.00", "60.000",
		float64(start.Add(time.Hour).UnixMilli() - 1), "0", 60.0, "0.000", "0", "0"}, r[0])
}

func TestKlinesQueryWindow(t *testing.T) {
	start := fixedNow.Truncate(24 * time.Hour).Add(-24 * time.Hour)
	s := newFixed(t, WithKlines("BTCUSDT", "1m", synthetic(start, 24*60)))
	ms := func(min int) string {
		return strconv.FormatInt(start.Add(time.Duration(min)*time.Minute).UnixMilli(), 10)
	}
	opens := func(rows [][]any) []string {
		var out []string
		for _, r := range rows {
			out = append(out, strconv.FormatInt(int64(r[0].(float64)), 10))
		}
		return out
	}
	assert.Equal(t, []string{ms(10), ms(11), ms(12)}, opens(klineRows(t, s, "symbol=BTCUSDT&interval=1m&limit=3&startTime="+ms(10))))
	assert.Equal(t, []string{ms(9), ms(10)}, opens(klineRows(t, s, "symbol=BTCUSDT&interval=1m&limit=2&endTime="+ms(10))))
	assert.Equal(t, []string{ms(10), ms(11)}, opens(klineRows(t, s, "symbol=BTCUSDT&interval=1m&startTime="+ms(10)+"&endTime="+ms(11))))
	last := klineRows(t, s, "symbol=BTCUSDT&interval=1m")
	assert.Len(t, last, 500)
	assert.Equal(t, ms(24*60-1), opens(last)[499])
	// A price move extends the history with the current minute.
	require.NoError(t, s.SetPrice(context.Background(), "BTCUSDT", decimal.RequireFromString("61000")))
	cur := klineRows(t, s, "symbol=BTCUSDT&interval=1m&limit=1")
	assert.Equal(t, []any{float64(fixedNow.Truncate(time.Minute).UnixMilli()), "61000.00", "61000.00", "61000.00", "61000.00", "0.000",
		float64(fixedNow.Truncate(time.Minute).UnixMilli() + 59999), "0", 1.0, "0.000", "0", "0"}, cur[0])
	d := klineRows(t, s, "symbol=BTCUSDT&interval=1d&limit=2")
	assert.Equal(t, "61000.00", d[1][4], "today's daily candle closes at the live price")

	for _, c := range []struct {
		params string
		code   int
	}{
		{"symbol=BTCUSDT&interval=1s", -1120}, {"symbol=BTCUSDT&interval=1H", -1120}, {"symbol=BTCUSDT", -1102},
		{"symbol=BTCUSDT&interval=1m&limit=1501", -1130}, {"symbol=BTCUSDT&interval=1m&limit=0", -1130},
		{"symbol=NOPE&interval=1m", -1121}, {"symbol=BTCUSDT&interval=1m&startTime=2&endTime=1", -1023},
	} {
		assert.Equal(t, c.code, code(t, get(t, s, "/fapi/v1/klines", c.params)), c.params)
	}
	for limit, weight := range map[string]string{"99": "1", "100": "2", "500": "5", "1000": "5", "1001": "10"} {
		s := newFixed(t)
		assert.Equal(t, weight, weightOf(get(t, s, "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit="+limit)), limit)
	}
}

func TestReadKlinesFormats(t *testing.T) {
	want := []Kline{{OpenTime: time.UnixMilli(1789478160000).UTC(), Open: decimal.RequireFromString("76936.20"),
		High: decimal.RequireFromString("76965.50"), Low: decimal.RequireFromString("76936.10"), Close: decimal.RequireFromString("76965.40"),
		Volume: decimal.RequireFromString("20.680"), QuoteVolume: decimal.RequireFromString("1591436.27140"), Trades: 878,
		TakerBuyVolume: decimal.RequireFromString("15.190"), TakerBuyQuoteVolume: decimal.RequireFromString("1168938.63310")}}
	// The sheet's live REST sample (§4.3).
	js := `[[1789478160000,"76936.20","76965.50","76936.10","76965.40","20.680",1789478219999,"1591436.27140",878,"15.190","1168938.63310","0"]]`
	csv := "1789478160000,76936.20,76965.50,76936.10,76965.40,20.680,1789478219999,1591436.27140,878,15.190,1168938.63310,0\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n" + csv))
	require.NoError(t, zw.Close())
	for name, in := range map[string][]byte{"json": []byte(js), "csv": []byte(csv), "gzip csv with header": gz.Bytes(),
		"microseconds": []byte(strings.Replace(csv, "1789478160000,", "1789478160000000,", 1))} {
		got, err := ReadKlines(bytes.NewReader(in))
		require.NoError(t, err, name)
		require.Len(t, got, 1, name)
		assert.True(t, got[0].OpenTime.Equal(want[0].OpenTime), name)
		for i, pair := range [][2]decimal.Decimal{{got[0].Open, want[0].Open}, {got[0].High, want[0].High}, {got[0].Low, want[0].Low},
			{got[0].Close, want[0].Close}, {got[0].Volume, want[0].Volume}, {got[0].QuoteVolume, want[0].QuoteVolume},
			{got[0].TakerBuyVolume, want[0].TakerBuyVolume}, {got[0].TakerBuyQuoteVolume, want[0].TakerBuyQuoteVolume}} {
			assert.True(t, pair[0].Equal(pair[1]), "%s field %d: %s", name, i, pair[0])
		}
		assert.Equal(t, int64(878), got[0].Trades, name)
	}
	ohlcv, err := ReadKlines(strings.NewReader("open_time,open,high,low,close,volume\n1746372780000,95505.4,95505.5,95502.7,95502.7,16.536\n"))
	require.NoError(t, err)
	assert.Equal(t, "16.536", ohlcv[0].Volume.String())

	for _, c := range []struct{ in, msg string }{
		{"1,2,3,4\n", "line 1: 4 fields"},
		{"open_time,open,high,low,close,volume\n1,2,x,1,2,3\n", `line 2: high "x"`},
		{"-5,1,1,1,1,1\n", `open_time "-5"`},
		{"1,1,1,1,1,-1\n", `volume "-1"`},
		{`[[1,"1"]]`, "element 0: 2 fields"},
		{`[{}]`, "JSON"},
	} {
		_, err := ReadKlines(strings.NewReader(c.in))
		require.Error(t, err, c.in)
		assert.True(t, errors.Is(err, ErrKlineFile), c.in)
		assert.Contains(t, err.Error(), c.msg, c.in)
	}
}

// TestNewReportsEverySeedProblem: New names each bad seed at once.
func TestNewReportsEverySeedProblem(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bad := synthetic(start, 3)
	bad[1].OpenTime = bad[1].OpenTime.Add(time.Second)
	unordered := synthetic(start, 2)
	unordered[1].OpenTime = start
	lowHigh := synthetic(start, 1)
	lowHigh[0].High = decimal.NewFromInt(1)
	_, err := New(
		WithKlines("NOPE", "1m", nil),
		WithKlines("BTCUSDT", "1s", nil),
		WithKlines("BTCUSDT", "1m", bad),
		WithKlineFile("BTCUSDT", "1m", strings.NewReader("1,2,3\n")),
		WithFillParts(0),
	)
	require.Error(t, err)
	for _, want := range []string{
		`WithKlines("NOPE", "1m"): symbol "NOPE" is not listed`,
		`WithKlines("BTCUSDT", "1s"): interval "1s" is not one of`,
		`WithKlines("BTCUSDT", "1m"): kline 1 (open 2026-01-01T00:01:01Z) is not on a 1m boundary`,
		`WithKlineFile("BTCUSDT", "1m"): binancetest: malformed kline file: line 1: 3 fields`,
		`WithFillParts(0): want at least 1`,
	} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = New(WithKlines("BTCUSDT", "1m", unordered))
	assert.ErrorContains(t, err, "kline 1 (open 2026-01-01T00:00:00Z) is not after the previous kline")
	_, err = New(WithKlines("BTCUSDT", "1m", lowHigh))
	assert.ErrorContains(t, err, "are not ordered low ≤ open, close ≤ high")
	assert.Panics(t, func() { NewServer(WithFillParts(0)) })
}

func FuzzReadKlines(f *testing.F) {
	f.Add([]byte(`[[1789478160000,"76936.20","76965.50","76936.10","76965.40","20.680",1789478219999,"1591436.27140",878,"15.190","1168938.63310","0"]]`))
	f.Add([]byte("open_time,open,high,low,close,volume\n1746372780000,95505.4,95505.5,95502.7,95502.7,16.536\n"))
	f.Add([]byte("1738368000000,4.6190,4.6190,4.5990,4.5990,45002,1738368059999,207501.9130,1000,10953,50540.4240,0\n"))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := ReadKlines(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrKlineFile) {
				t.Fatalf("error %v does not wrap ErrKlineFile", err)
			}
			return
		}
		for _, k := range ks {
			for _, d := range []decimal.Decimal{k.Open, k.High, k.Low, k.Close, k.Volume, k.QuoteVolume} {
				if d.IsNegative() {
					t.Fatalf("negative field accepted: %+v", k)
				}
			}
			if k.Trades < 0 || k.OpenTime.UnixMilli() < 0 {
				t.Fatalf("negative count or time accepted: %+v", k)
			}
		}
	})
}

// TestMergeRun: the one fold every aggregation of the history uses — the
// first open, the extreme high and low, the last close, summed volumes and
// trades — and span's half-open bounds.
func TestMergeRun(t *testing.T) {
	d := decimal.RequireFromString
	k := func(open int64, o, h, l, c, v string, n int64) candle {
		return candle{open: open, o: d(o), h: d(h), l: d(l), c: d(c), vol: d(v), quoteVol: d(v).Mul(d("100")), takerBase: d(v).Div(d("2")), tkQ: d("1"), trades: n}
	}
	if _, ok := mergeRun(nil); ok {
		t.Error("an empty run merged")
	}
	run := []candle{k(0, "100", "105", "99", "101", "1", 3), k(60_000, "101", "110", "100", "108", "2", 4), k(120_000, "108", "109", "95", "96", "3", 5)}
	got, ok := mergeRun(run)
	want := candle{open: 0, o: d("100"), h: d("110"), l: d("95"), c: d("96"), vol: d("6"), quoteVol: d("600"), takerBase: d("3"), tkQ: d("3"), trades: 12}
	if !ok || got.open != want.open || !got.o.Equal(want.o) || !got.h.Equal(want.h) || !got.l.Equal(want.l) || !got.c.Equal(want.c) ||
		!got.vol.Equal(want.vol) || !got.quoteVol.Equal(want.quoteVol) || !got.takerBase.Equal(want.takerBase) || !got.tkQ.Equal(want.tkQ) || got.trades != want.trades {
		t.Errorf("mergeRun = %+v, want %+v", got, want)
	}
	if !run[0].h.Equal(d("105")) || run[0].trades != 3 {
		t.Error("mergeRun changed its input")
	}
	b := &book{candles: run}
	for _, c := range []struct {
		from, to int64
		n        int
	}{{0, 60_000, 1}, {0, 60_001, 2}, {-1, 0, 0}, {60_000, 180_000, 2}, {120_001, 1 << 40, 0}, {0, 1 << 40, 3}} {
		if got := b.span(c.from, c.to); len(got) != c.n || (c.n > 0 && got[0].open < c.from) {
			t.Errorf("span(%d, %d) = %d candles, want %d", c.from, c.to, len(got), c.n)
		}
	}
}
