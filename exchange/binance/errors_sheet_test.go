package binance

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// sheetCodes reads every error code named in the protocol sheet's lines
// copied to testdata/sheet_error_codes.txt, expanding the one range it
// writes as "-5024…-5029".
func sheetCodes(t *testing.T) []int {
	t.Helper()
	b := fixture(t, "sheet_error_codes.txt")
	codeRe := regexp.MustCompile(`-([1-5]\d{3})\b`)
	rangeRe := regexp.MustCompile(`-([1-5]\d{3})…-([1-5]\d{3})`)
	set := map[int]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, m := range rangeRe.FindAllStringSubmatch(line, -1) {
			lo, _ := strconv.Atoi(m[1])
			hi, _ := strconv.Atoi(m[2])
			for c := lo; c <= hi; c++ {
				set[-c] = true
			}
		}
		for _, m := range codeRe.FindAllStringSubmatch(line, -1) {
			n, _ := strconv.Atoi(m[1])
			set[-n] = true
		}
	}
	var out []int
	for c := range set {
		out = append(out, c)
	}
	sort.Ints(out)
	return out
}

// TestSheetCodesTyped: every error code the protocol sheet names either maps
// to a sentinel of package exchange or is on the deliberately generic list,
// never both; and both lists name only codes the sheet knows or the issue
// asked for.
func TestSheetCodesTyped(t *testing.T) {
	codes := sheetCodes(t)
	if len(codes) < 90 {
		t.Fatalf("read only %d codes from the sheet excerpt", len(codes))
	}
	inSheet := map[int]bool{}
	for _, c := range codes {
		inSheet[c] = true
		kind := kindOf(c)
		_, generic := genericCodes[c]
		switch {
		case kind == nil && !generic:
			t.Errorf("code %d of the sheet maps to no sentinel and is not listed as deliberately generic", c)
		case kind != nil && generic:
			t.Errorf("code %d maps to %v and is also listed as generic", c, kind)
		}
	}
	for c := range genericCodes {
		if !inSheet[c] {
			t.Errorf("generic code %d is not in the sheet", c)
		}
	}
	// -4140 is not in the sheet; the issue names it from the official list.
	for c := range codeKinds {
		if !inSheet[c] && c != -4140 {
			t.Errorf("mapped code %d is not in the sheet: add its source", c)
		}
	}
}

// codeServer answers every signed call with one Binance error body (after
// the time and exchangeInfo calls a signed order needs).
func codeServer(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/fapi/v1/time":
			fmt.Fprintf(rw, `{"serverTime":%d}`, time.Now().UnixMilli())
		case "/fapi/v1/exchangeInfo":
			_, _ = rw.Write(append(append([]byte(`{"symbols":[`), fixture(t, "rest_exchangeinfo_btcusdt_symbol.json")...), "]}"...))
		default:
			rw.WriteHeader(status)
			_, _ = io.WriteString(rw, body)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestSettingAndOpeningCodes sends the call that meets each newly mapped
// code to a server answering it, and checks the sentinel, the code and that
// the message reaches the caller.
func TestSettingAndOpeningCodes(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		code int
		msg  string
		call func(*Client) error
		want error
	}{
		{-4067, "Position side cannot be changed if there exists open orders.",
			func(c *Client) error { return c.SetPositionMode(ctx, exchange.Hedge) }, exchange.ErrSettingLocked},
		{-4068, "Position side cannot be changed if there exists position.",
			func(c *Client) error { return c.SetPositionMode(ctx, exchange.OneWay) }, exchange.ErrSettingLocked},
		{-4161, "Leverage reduction is not supported in Isolated Margin Mode with open positions.",
			func(c *Client) error { _, err := c.SetLeverage(ctx, "BTCUSDT", 5); return err }, exchange.ErrSettingLocked},
		{-4140, "Invalid symbol status for opening position.",
			func(c *Client) error {
				_, err := c.PlaceOrder(ctx, exchange.OrderRequest{Symbol: "BTCUSDT", Side: exchange.Buy, Type: exchange.Limit,
					TimeInForce: exchange.GTC, Price: decimal.RequireFromString("60000"), Quantity: decimal.RequireFromString("0.002")})
				return err
			}, exchange.ErrTradingRestricted},
	}
	others := []error{exchange.ErrInvalidOrder, exchange.ErrTradingRestricted, exchange.ErrSettingLocked, exchange.ErrPositionMode,
		exchange.ErrUnknownOutcome, exchange.ErrUnavailable, exchange.ErrRateLimited}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			srv := codeServer(t, http.StatusBadRequest, fmt.Sprintf(`{"code":%d,"msg":%q}`, tc.code, tc.msg))
			c := vectorClient(t, Config{RESTURL: srv.URL, WSURL: "ws://127.0.0.1:1"})
			err := tc.call(c)
			for _, s := range others {
				if got := errors.Is(err, s); got != (s == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, s, got, s == tc.want)
				}
			}
			var ve *exchange.VenueError
			if !errors.As(err, &ve) || ve.Code != tc.code || ve.Msg != tc.msg || ve.HTTPStatus != 400 {
				t.Errorf("error %v does not carry code %d and the venue's message", err, tc.code)
			}
			if exchange.Retryable(err) {
				t.Errorf("%v is retryable", err)
			}
		})
	}
}
