package pricefeed_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/shopspring/decimal"
)

const btcFile = "../examples/data/binance-um_BTCUSDT_1m_2025-05-04_2025-06-03.csv.gz"

func rules(tick, step string) exchange.Rules {
	return exchange.Rules{
		Symbol:   "TEST",
		TickSize: decimal.RequireFromString(tick),
		StepSize: decimal.RequireFromString(step),
	}
}

// btcRules are Binance USDⓈ-M BTCUSDT's price and quantity increments.
var btcRules = rules("0.1", "0.001")

func gunzip(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadCandlesShippedBTC(t *testing.T) {
	cs, err := pricefeed.ReadCandlesFile(btcFile, btcRules)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 43199 {
		t.Fatalf("got %d candles, want 43199", len(cs))
	}
	want := []pricefeed.Candle{
		// 1746372780000,95505.4,95505.5,95502.7,95502.7,16.536
		{OpenTime: 1746372780000, Open: 955054, High: 955055, Low: 955027, Close: 955027, Volume: 16536},
		// 1746372840000,95502.8,95502.8,95478,95478.1,28.313
		{OpenTime: 1746372840000, Open: 955028, High: 955028, Low: 954780, Close: 954781, Volume: 28313},
		// 1746372900000,95478,95478.1,95457.6,95457.6,28.674
		{OpenTime: 1746372900000, Open: 954780, High: 954781, Low: 954576, Close: 954576, Volume: 28674},
	}
	if !reflect.DeepEqual(cs[:3], want) {
		t.Errorf("first rows:\n got %+v\nwant %+v", cs[:3], want)
	}
	// 1748964660000,106687.9,106695.3,106580.1,106588.4,261.189
	last := pricefeed.Candle{OpenTime: 1748964660000, Open: 1066879, High: 1066953, Low: 1065801, Close: 1065884, Volume: 261189}
	if cs[len(cs)-1] != last {
		t.Errorf("last row = %+v, want %+v", cs[len(cs)-1], last)
	}
	// The month's high is the USDⓈ-M perpetual's 111,959.5 of 2025-05-22.
	var hi pricefeed.Candle
	for _, c := range cs {
		if c.High > hi.High {
			hi = c
		}
	}
	if hi.High != 1119595 {
		t.Errorf("month high = %d ticks, want 1119595", hi.High)
	}

	// Plain text decodes to the same candles as gzip.
	plain, err := pricefeed.ReadCandles(bytes.NewReader(gunzip(t, btcFile)), btcRules)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plain, cs) {
		t.Error("plain and gzip decodes differ")
	}
}

const nearFile = "testdata/NEARUSDT-1m-2023-09.head1440.csv.gz"

func TestReadCandlesBinanceDump(t *testing.T) {
	near := rules("0.001", "1") // Binance USDⓈ-M NEARUSDT
	want := []pricefeed.Candle{
		// 1693526400000,1.1540,1.1540,1.1510,1.1520,134178,1693526459999,...
		{OpenTime: 1693526400000, Open: 1154, High: 1154, Low: 1151, Close: 1152, Volume: 134178},
		// 1693526460000,1.1520,1.1540,1.1520,1.1530,46914,...
		{OpenTime: 1693526460000, Open: 1152, High: 1154, Low: 1152, Close: 1153, Volume: 46914},
	}
	// 1693612740000,1.1260,1.1270,1.1260,1.1260,752,...
	last := pricefeed.Candle{OpenTime: 1693612740000, Open: 1126, High: 1127, Low: 1126, Close: 1126, Volume: 752}

	text := gunzip(t, nearFile)
	_, headerless, _ := bytes.Cut(text, []byte("\n"))
	crlf := bytes.ReplaceAll(text, []byte("\n"), []byte("\r\n"))
	for name, in := range map[string][]byte{
		"gzip": nil, "plain": text, "headerless": headerless, "crlf": crlf,
	} {
		t.Run(name, func(t *testing.T) {
			var cs []pricefeed.Candle
			var err error
			if in == nil {
				cs, err = pricefeed.ReadCandlesFile(nearFile, near)
			} else {
				cs, err = pricefeed.ReadCandles(bytes.NewReader(in), near)
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != 1440 {
				t.Fatalf("got %d candles, want 1440", len(cs))
			}
			if !reflect.DeepEqual(cs[:2], want) || cs[1439] != last {
				t.Errorf("got %+v … %+v", cs[:2], cs[1439])
			}
		})
	}
}

func TestReadCandlesVariants(t *testing.T) {
	r := rules("0.01", "0.001")
	one := []pricefeed.Candle{{OpenTime: 1700000000000, Open: 10000, High: 10100, Low: 9900, Close: 10050, Volume: 1500}}
	tests := []struct {
		name string
		in   string
		want []pricefeed.Candle
	}{
		{"ohlcv", "open_time,open,high,low,close,volume\n1700000000000,100,101,99,100.5,1.5\n", one},
		{"header case and spaces", " Open_Time , OPEN,high,low,close,volume\n1700000000000,100,101,99,100.5,1.5\n", one},
		{"headerless ohlcv", "1700000000000,100,101,99,100.5,1.5", one},
		{"byte order mark", "\xef\xbb\xbfopen_time,open,high,low,close,volume\n1700000000000,100,101,99,100.5,1.5\n", one},
		{"blank lines", "\n\nopen_time,open,high,low,close,volume\n\n1700000000000,100,101,99,100.5,1.5\n\n", one},
		{"microseconds", "1700000000000000,100,101,99,100.5,1.5\n", one},
		{"nanoseconds", "1700000000000000000,100,101,99,100.5,1.5\n", one},
		{"12-column headerless", "1700000000000,100.00,101.00,99.00,100.50,1.500,1700000059999,150.0,3,1.0,100.0,0\n", one},
		{"rounds to the nearest tick and step", "1700000000000,100.004,101.0049,98.995,100.5,1.4996\n", one},
		{"exponent notation", "1700000000000,1e2,101,99,100.5,1.5\n", one},
		{"empty", "", []pricefeed.Candle{}},
		{"header only", "open_time,open,high,low,close,volume\n", []pricefeed.Candle{}},
		{"green and red", "60000,1,2,0.5,1.5,0\n120000,1.5,1.6,1,1.2,2\n", []pricefeed.Candle{
			{OpenTime: 60000, Open: 100, High: 200, Low: 50, Close: 150, Volume: 0},
			{OpenTime: 120000, Open: 150, High: 160, Low: 100, Close: 120, Volume: 2000},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pricefeed.ReadCandles(strings.NewReader(tt.in), r)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReadCandlesErrors(t *testing.T) {
	r := rules("0.01", "0.001")
	const h = "open_time,open,high,low,close,volume\n"
	const ok = "1700000000000,100,101,99,100.5,1.5\n"
	tests := []struct {
		name   string
		in     string
		line   int
		column string
		text   string
		is     error
	}{
		{"unknown header", "time,o,h,l,c,v\n", 1, "", "time,o,h,l,c,v", pricefeed.ErrFormat},
		{"7 columns headerless", "1,2,3,4,5,6,7\n", 1, "", "1,2,3,4,5,6,7", pricefeed.ErrFormat},
		{"missing column", h + ok + "1700000060000,100,101,99,100.5\n", 3, "", "1700000060000,100,101,99,100.5", pricefeed.ErrFieldCount},
		{"extra column", h + "1700000060000,100,101,99,100.5,1,2\n", 2, "", "1700000060000,100,101,99,100.5,1,2", pricefeed.ErrFieldCount},
		{"bad time", h + "17000x0000000,100,101,99,100.5,1.5\n", 2, "open_time", "17000x0000000", pricefeed.ErrSyntax},
		{"negative time", h + "-1700000000000,100,101,99,100.5,1.5\n", 2, "open_time", "-1700000000000", pricefeed.ErrRange},
		{"empty time", h + ",100,101,99,100.5,1.5\n", 2, "open_time", "", pricefeed.ErrSyntax},
		{"bad open", h + "1700000000000,1o0,101,99,100.5,1.5\n", 2, "open", "1o0", pricefeed.ErrSyntax},
		{"bad high", h + ok + "1700000060000,100,abc,99,100.5,1.5\n", 3, "high", "abc", pricefeed.ErrSyntax},
		{"empty close", h + "1700000000000,100,101,99,,1.5\n", 2, "close", "", pricefeed.ErrSyntax},
		{"quoted volume", h + "1700000000000,100,101,99,100.5,\"1.5\"\n", 2, "volume", "\"1.5\"", pricefeed.ErrSyntax},
		{"huge price", h + "1700000000000,100,1e300,99,100.5,1.5\n", 2, "high", "1e300", pricefeed.ErrRange},
		{"zero low", h + "1700000000000,100,101,0,100.5,1.5\n", 2, "low", "0", pricefeed.ErrRange},
		{"negative volume", h + "1700000000000,100,101,99,100.5,-1\n", 2, "volume", "-1", pricefeed.ErrRange},
		{"high below close", h + "1700000000000,100,101,99,101.5,1.5\n", 2, "high", "101", pricefeed.ErrOHLC},
		{"low above open", h + "1700000000000,100,101,100.5,100.8,1.5\n", 2, "low", "100.5", pricefeed.ErrOHLC},
		{"duplicate time", h + ok + ok, 3, "open_time", "1700000000000", pricefeed.ErrOrder},
		{"time goes back", h + ok + "1699999940000,100,101,99,100.5,1.5\n", 3, "open_time", "1699999940000", pricefeed.ErrOrder},
		{"line too long", h + strings.Repeat("1", 70000) + "\n", 2, "", strings.Repeat("1", 200), pricefeed.ErrLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pricefeed.ReadCandles(strings.NewReader(tt.in), r)
			if err == nil {
				t.Fatalf("no error, got %+v", got)
			}
			var ce *pricefeed.CSVError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *CSVError", err)
			}
			if ce.Line != tt.line || ce.Column != tt.column || ce.Text != tt.text {
				t.Errorf("got line %d column %q text %q, want line %d column %q text %q (%v)", ce.Line, ce.Column, ce.Text, tt.line, tt.column, tt.text, err)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %v does not match %v", err, tt.is)
			}
			if got != nil {
				t.Errorf("got candles %v with the error", got)
			}
		})
	}
}

func TestReadCandlesErrorText(t *testing.T) {
	_, err := pricefeed.ReadCandles(strings.NewReader("open_time,open,high,low,close,volume\n1700000000000,100,1x1,99,100.5,1.5\n"), rules("0.01", "0.001"))
	const want = `pricefeed: line 2, column high: "1x1": malformed value: parse price "1x1": not a decimal number`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
	var pe *exchange.ParseError
	if !errors.As(err, &pe) || pe.Text != "1x1" {
		t.Errorf("error %v does not wrap the *exchange.ParseError", err)
	}
}

func TestReadCandlesBadInput(t *testing.T) {
	if _, err := pricefeed.ReadCandles(strings.NewReader(""), exchange.Rules{}); err == nil {
		t.Error("zero rules: no error")
	}
	if _, err := pricefeed.ReadCandles(bytes.NewReader([]byte{0x1f, 0x8b, 0, 1}), btcRules); err == nil {
		t.Error("corrupt gzip: no error")
	}
	if _, err := pricefeed.ReadCandlesFile("testdata/no-such-file.csv", btcRules); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: error %v does not match os.ErrNotExist", err)
	}
	// An error from a file names the file.
	path := t.TempDir() + "/bad.csv"
	if err := os.WriteFile(path, []byte("1700000000000,100,101,99,100.5,x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := pricefeed.ReadCandlesFile(path, btcRules)
	var ce *pricefeed.CSVError
	if !errors.As(err, &ce) || ce.Line != 1 || ce.Column != "volume" || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("error = %v, want a *CSVError for line 1 volume prefixed with the path", err)
	}
}

func TestCandlePath(t *testing.T) {
	tests := []struct {
		name string
		c    pricefeed.Candle
		want [4]exchange.Ticks
	}{
		{"green", pricefeed.Candle{Open: 10, High: 15, Low: 8, Close: 12}, [4]exchange.Ticks{10, 8, 15, 12}},
		{"red", pricefeed.Candle{Open: 12, High: 15, Low: 8, Close: 10}, [4]exchange.Ticks{12, 15, 8, 10}},
		{"flat is green", pricefeed.Candle{Open: 10, High: 11, Low: 9, Close: 10}, [4]exchange.Ticks{10, 9, 11, 10}},
		{"doji at the low", pricefeed.Candle{Open: 9, High: 11, Low: 9, Close: 9}, [4]exchange.Ticks{9, 9, 11, 9}},
		{"still", pricefeed.Candle{Open: 7, High: 7, Low: 7, Close: 7}, [4]exchange.Ticks{7, 7, 7, 7}},
	}
	for _, tt := range tests {
		if got := tt.c.Path(); got != tt.want {
			t.Errorf("%s: Path() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// formatTicks writes n ticks of tick 10^-scale as decimal text.
func formatTicks(n int64, scale int) string {
	s := fmt.Sprintf("%0*d", scale+1, n)
	if scale == 0 {
		return s
	}
	return s[:len(s)-scale] + "." + s[len(s)-scale:]
}

// TestReadCandlesRoundTrip writes random valid candles in both layouts,
// plain and gzip, and checks they decode to exactly what was written.
func TestReadCandlesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 200 {
		tickScale, stepScale := rng.IntN(9), rng.IntN(9)
		r := rules(formatTicks(1, tickScale), formatTicks(1, stepScale))
		n := rng.IntN(50)
		want := make([]pricefeed.Candle, n)
		tm := rng.Int64N(2e12)
		for i := range want {
			tm += 1 + rng.Int64N(120000)
			o, c := 1+rng.Int64N(1e9), 1+rng.Int64N(1e9)
			lo := 1 + rng.Int64N(min(o, c))
			hi := max(o, c) + rng.Int64N(1e6)
			want[i] = pricefeed.Candle{OpenTime: tm, Open: exchange.Ticks(o), High: exchange.Ticks(hi),
				Low: exchange.Ticks(lo), Close: exchange.Ticks(c), Volume: exchange.Steps(rng.Int64N(1e12))}
		}
		full := iter%2 == 1
		var b bytes.Buffer
		if rng.IntN(2) == 0 {
			if full {
				b.WriteString("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n")
			} else {
				b.WriteString("open_time,open,high,low,close,volume\n")
			}
		}
		for _, c := range want {
			fmt.Fprintf(&b, "%d,%s,%s,%s,%s,%s", c.OpenTime, formatTicks(int64(c.Open), tickScale), formatTicks(int64(c.High), tickScale),
				formatTicks(int64(c.Low), tickScale), formatTicks(int64(c.Close), tickScale), formatTicks(int64(c.Volume), stepScale))
			if full {
				fmt.Fprintf(&b, ",%d,1.0,1,0.5,0.5,0", c.OpenTime+59999)
			}
			b.WriteByte('\n')
		}
		in := b.Bytes()
		if rng.IntN(2) == 0 {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(in)
			zw.Close()
			in = z.Bytes()
		}
		got, err := pricefeed.ReadCandles(bytes.NewReader(in), r)
		if err != nil {
			t.Fatalf("iteration %d: %v", iter, err)
		}
		if len(got) != len(want) || (n > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("iteration %d: got %+v, want %+v", iter, got, want)
		}
	}
}

func FuzzReadCandles(f *testing.F) {
	f.Add([]byte("open_time,open,high,low,close,volume\n1700000000000,100,101,99,100.5,1.5\n"))
	f.Add([]byte("1700000000000,100.00,101.00,99.00,100.50,1.500,1700000059999,150.0,3,1.0,100.0,0\r\n"))
	f.Add([]byte("1,1e2,-3,.5,+4,0\n\n2,1,1,1,1,1"))
	head := gunzip(f, nearFile)
	f.Add(head[:2000])
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(head[:500])
	zw.Close()
	f.Add(z.Bytes())
	r := rules("0.01", "0.001")
	f.Fuzz(func(t *testing.T, in []byte) {
		cs, err := pricefeed.ReadCandles(bytes.NewReader(in), r)
		if err != nil {
			if cs != nil {
				t.Fatalf("candles %v with error %v", cs, err)
			}
			return
		}
		for i, c := range cs {
			if c.Low <= 0 || c.Volume < 0 || c.High < max(c.Open, c.Close) || c.Low > min(c.Open, c.Close) {
				t.Fatalf("candle %d breaks the checks: %+v", i, c)
			}
			if i > 0 && c.OpenTime <= cs[i-1].OpenTime {
				t.Fatalf("candle %d out of order: %d after %d", i, c.OpenTime, cs[i-1].OpenTime)
			}
		}
	})
}

func BenchmarkDecodeKlines(b *testing.B) {
	gz, err := os.ReadFile(btcFile)
	if err != nil {
		b.Fatal(err)
	}
	plain := gunzip(b, btcFile)
	for _, bc := range []struct {
		name string
		in   []byte
	}{{"plain", plain}, {"gzip", gz}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			rows := 0
			for b.Loop() {
				cs, err := pricefeed.ReadCandles(bytes.NewReader(bc.in), btcRules)
				if err != nil {
					b.Fatal(err)
				}
				rows += len(cs)
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
