package binance

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// TestErrorCodes maps every code of the sheet's §8.2 (written out here
// independently of codeKinds) through an HTTP 400 answer.
func TestErrorCodes(t *testing.T) {
	inv, nf, auth, marg, ro, pm, rl := exchange.ErrInvalidOrder, exchange.ErrOrderNotFound, exchange.ErrAuth,
		exchange.ErrInsufficientMargin, exchange.ErrReduceOnlyRejected, exchange.ErrPositionMode, exchange.ErrRateLimited
	restricted, unavail, unknown := exchange.ErrTradingRestricted, exchange.ErrUnavailable, exchange.ErrUnknownOutcome
	locked := exchange.ErrSettingLocked
	want := map[int]error{
		-1000: unknown, -1001: unavail, -1003: rl, -1006: unknown, -1007: unknown, -1008: unavail, -1015: rl,
		-1021: exchange.ErrClockSkew, -1022: auth, -1100: inv, -1102: inv, -1106: pm, -1111: inv, -1115: inv, -1116: inv,
		-1117: inv, -1121: inv, -1125: unavail, -2010: inv, -2011: nf, -2013: nf, -2014: auth, -2015: auth, -2018: marg,
		-2019: marg, -2020: inv, -2021: inv, -2022: ro, -2024: ro, -2025: exchange.ErrTooManyOrders, -2027: marg, -2028: marg,
		-4002: inv, -4003: inv, -4004: inv, -4005: inv, -4013: inv, -4014: inv, -4015: inv, -4016: inv, -4023: inv, -4024: inv,
		-4028: inv, -4046: nil, -4047: locked, -4048: locked, -4059: nil, -4061: pm, -4062: ro, -4067: locked, -4068: locked,
		-4082: inv, -4083: inv, -4140: restricted, -4161: locked, -4202: inv, -4203: inv, -4205: inv, -4206: inv, -4208: inv,
		-4209: inv, -4403: inv, -4531: locked, -2017: auth,
		-4087: restricted, -4088: restricted, -4105: restricted, -4106: restricted, -4107: restricted, -4109: restricted,
		-4116: exchange.ErrDuplicateClientOrderID, -4118: ro, -4120: exchange.ErrUnsupported, -4131: inv, -4164: inv,
		-4189: restricted, -4400: restricted, -4401: restricted, -5021: inv, -5022: exchange.ErrPostOnlyRejected,
		-5024: restricted, -5025: exchange.ErrUnsupported, -5026: inv, -5027: inv, -5028: exchange.ErrClockSkew, -5029: inv,
		-5037: inv, -5038: inv, -5039: inv, -5040: inv, -5043: inv,
	}
	if len(want) != len(codeKinds) {
		t.Errorf("the table maps %d codes, the adapter %d", len(want), len(codeKinds))
	}
	sentinels := []error{inv, nf, auth, marg, ro, pm, rl, restricted, unavail, unknown, exchange.ErrClockSkew,
		exchange.ErrTooManyOrders, exchange.ErrDuplicateClientOrderID, exchange.ErrUnsupported, exchange.ErrPostOnlyRejected, locked}
	now := time.UnixMilli(1700000000000)
	for code, kind := range want {
		body := []byte(`{"code":` + itoa(code) + `,"msg":"m"}`)
		err := errorFromResponse("place", true, http.StatusBadRequest, http.Header{}, body, now, now)
		var ve *exchange.VenueError
		if !errors.As(err, &ve) || ve.Code != code || ve.Msg != "m" || ve.HTTPStatus != 400 || ve.Venue != "binance-usdm" {
			t.Errorf("code %d: error %v is not the venue error", code, err)
			continue
		}
		for _, s := range sentinels {
			if got := errors.Is(err, s); got != (s == kind) {
				t.Errorf("code %d: errors.Is(%v) = %v, want sentinel %v", code, s, got, kind)
			}
		}
	}
	// An unlisted -11xx code is a parameter problem; any other unlisted code has no sentinel.
	if err := errorFromResponse("place", true, 400, http.Header{}, []byte(`{"code":-1199,"msg":"x"}`), now, now); !errors.Is(err, inv) {
		t.Errorf("-1199: %v", err)
	}
	if err := errorFromResponse("place", true, 400, http.Header{}, []byte(`{"code":-9999,"msg":"x"}`), now, now); errors.Unwrap(err) != nil {
		t.Errorf("-9999 maps to %v, want no sentinel", errors.Unwrap(err))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestErrorFromResponseStatuses(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 30, 0, time.UTC)
	sent := now.Add(-time.Second)
	hdr := func(k, v string) http.Header { h := http.Header{}; h.Set(k, v); return h }
	cases := []struct {
		name     string
		mutating bool
		status   int
		header   http.Header
		body     string
		want     error
		retry    time.Duration
		banned   bool
		unknown  bool
	}{
		{"429 with Retry-After", true, 429, hdr("Retry-After", "7"), `{"code":-1003,"msg":"Too many requests; current limit is 2400 requests per minute."}`, exchange.ErrRateLimited, 7 * time.Second, false, false},
		{"429 without header waits for the next minute", false, 429, http.Header{}, `{"code":-1003,"msg":"Too many requests"}`, exchange.ErrRateLimited, 30 * time.Second, false, false},
		{"418 banned until", false, 418, http.Header{}, `{"code":-1003,"msg":"Way too many requests; IP banned until 1793534520000. Please use the websocket for live updates to avoid bans."}`, exchange.ErrRateLimited, time.UnixMilli(1793534520000).Sub(now), true, false},
		{"-1015 waits for the next 10 s", true, 429, http.Header{}, `{"code":-1015,"msg":"Too many new orders; current limit is 300 orders per 10 SECOND."}`, exchange.ErrRateLimited, 10 * time.Second, false, false},
		{"403 WAF", false, 403, http.Header{}, `<html>403</html>`, exchange.ErrRateLimited, 30 * time.Second, false, false},
		{"503 unknown error on place", true, 503, http.Header{}, `{"code":-1000,"msg":"Unknown error, please check your request or try again later."}`, exchange.ErrUnknownOutcome, 0, false, true},
		{"503 service unavailable is certain", true, 503, http.Header{}, `Service Unavailable.`, exchange.ErrUnavailable, 0, false, false},
		{"503 -1008 throttled", true, 503, http.Header{}, `{"code":-1008,"msg":"Request throttled by system-level protection."}`, exchange.ErrUnavailable, 0, false, false},
		{"500 on place", true, 500, http.Header{}, `Request occur unknown error.`, exchange.ErrUnknownOutcome, 0, false, true},
		{"500 on a query", false, 500, http.Header{}, `Request occur unknown error.`, exchange.ErrUnavailable, 0, false, false},
		{"-1007 timeout", true, 400, http.Header{}, `{"code":-1007,"msg":"Timeout waiting for response from backend server."}`, exchange.ErrUnknownOutcome, 0, false, true},
		{"-1006 on a query", false, 400, http.Header{}, `{"code":-1006,"msg":"Unexpected response"}`, exchange.ErrUnknownOutcome, 0, false, true},
		{"408 on cancel", true, 408, http.Header{}, ``, exchange.ErrUnknownOutcome, 0, false, true},
		{"401 without body", false, 401, http.Header{}, ``, exchange.ErrAuth, 0, false, false},
		{"200 with code -2019", true, 200, http.Header{}, `{"code":-2019,"msg":"Margin is insufficient."}`, exchange.ErrInsufficientMargin, 0, false, false},
	}
	for _, c := range cases {
		err := errorFromResponse("op", c.mutating, c.status, c.header, []byte(c.body), sent, now)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v does not match %v", c.name, err, c.want)
		}
		var rl *exchange.RateLimitError
		if errors.As(err, &rl) {
			if rl.RetryAfter != c.retry || rl.Banned != c.banned {
				t.Errorf("%s: RetryAfter %s Banned %v, want %s %v", c.name, rl.RetryAfter, rl.Banned, c.retry, c.banned)
			}
		} else if c.retry != 0 {
			t.Errorf("%s: %v is not a RateLimitError", c.name, err)
		}
		var uo *exchange.UnknownOutcomeError
		if got := errors.As(err, &uo); got != c.unknown {
			t.Errorf("%s: UnknownOutcomeError %v, want %v (%v)", c.name, got, c.unknown, err)
		} else if got && (!uo.SentAt.Equal(sent) || uo.Op != "op") {
			t.Errorf("%s: UnknownOutcomeError %+v", c.name, uo)
		}
	}
}

func FuzzErrorFromResponse(f *testing.F) {
	f.Add(400, []byte(`{"code":-5022,"msg":"Post Only"}`))
	f.Add(429, []byte(`{"code":-1003,"msg":"IP banned until 1615183669840."}`))
	f.Add(503, []byte(`Service Unavailable.`))
	f.Add(200, []byte(`{"code":200,"msg":"success"}`))
	f.Add(400, []byte(`{"code":"x"}`))
	now := time.UnixMilli(1700000000000)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			return
		}
		err := errorFromResponse("place", true, status, http.Header{}, body, now, now)
		if err == nil {
			t.Fatal("nil error")
		}
		_ = err.Error()
		var rl *exchange.RateLimitError
		if errors.As(err, &rl) && rl.RetryAfter < 0 {
			t.Fatalf("negative RetryAfter %s", rl.RetryAfter)
		}
		code, _, ok := decodeAPIError(body)
		if ok && code >= 0 {
			t.Fatalf("decodeAPIError accepted code %d", code)
		}
	})
}
