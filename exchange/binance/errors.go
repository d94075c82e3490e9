package binance

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// venueName is the Venue of every *exchange.VenueError this adapter returns.
const venueName = "binance-usdm"

// codeKinds maps every error code of the protocol sheet's §8.2 (and the few
// of §4 the adapter can meet) to the sentinel callers branch on. A code
// mapped to nil is harmless (-4046, -4059: "no need to change"); see
// genericCodes for every code deliberately left without a sentinel.
var codeKinds = map[int]error{
	-1000: exchange.ErrUnknownOutcome, // UNKNOWN: reconcile
	-1001: exchange.ErrUnavailable,    // DISCONNECTED
	-1003: exchange.ErrRateLimited,    // TOO_MANY_REQUESTS
	-1006: exchange.ErrUnknownOutcome, // UNEXPECTED_RESP
	-1007: exchange.ErrUnknownOutcome, // TIMEOUT
	-1008: exchange.ErrUnavailable,    // request throttled (overload)
	-1015: exchange.ErrRateLimited,    // TOO_MANY_ORDERS
	-1021: exchange.ErrClockSkew,      // INVALID_TIMESTAMP
	-1022: exchange.ErrAuth,           // INVALID_SIGNATURE
	-1100: exchange.ErrInvalidOrder,   // ILLEGAL_CHARS
	-1102: exchange.ErrInvalidOrder,   // MANDATORY_PARAM_EMPTY_OR_MALFORMED
	-1106: exchange.ErrPositionMode,   // PARAM_NOT_REQUIRED (reduceOnly in hedge mode)
	-1111: exchange.ErrInvalidOrder,   // BAD_PRECISION
	-1115: exchange.ErrInvalidOrder,   // INVALID_TIF
	-1116: exchange.ErrInvalidOrder,   // INVALID_ORDER_TYPE
	-1117: exchange.ErrInvalidOrder,   // INVALID_SIDE
	-1121: exchange.ErrInvalidOrder,   // BAD_SYMBOL
	-1125: exchange.ErrUnavailable,    // INVALID_LISTEN_KEY: create a new key
	-2017: exchange.ErrAuth,           // API_KEYS_LOCKED
	-2010: exchange.ErrInvalidOrder,   // NEW_ORDER_REJECTED
	-2011: exchange.ErrOrderNotFound,  // CANCEL_REJECTED: unknown or closed
	-2013: exchange.ErrOrderNotFound,  // NO_SUCH_ORDER
	-2014: exchange.ErrAuth,           // BAD_API_KEY_FMT
	-2015: exchange.ErrAuth,           // REJECTED_MBX_KEY
	-2018: exchange.ErrInsufficientMargin,
	-2019: exchange.ErrInsufficientMargin,
	-2020: exchange.ErrInvalidOrder,       // UNABLE_TO_FILL
	-2021: exchange.ErrInvalidOrder,       // ORDER_WOULD_IMMEDIATELY_TRIGGER
	-2022: exchange.ErrReduceOnlyRejected, // REDUCE_ONLY_REJECT
	-2024: exchange.ErrReduceOnlyRejected, // POSITION_NOT_SUFFICIENT
	-2025: exchange.ErrTooManyOrders,      // MAX_OPEN_ORDER_EXCEEDED
	-2027: exchange.ErrInsufficientMargin, // MAX_LEVERAGE_RATIO: position above the bracket
	-2028: exchange.ErrInsufficientMargin, // MIN_LEVERAGE_RATIO
	-4002: exchange.ErrInvalidOrder,       // PRICE_GREATER_THAN_MAX_PRICE
	-4003: exchange.ErrInvalidOrder,       // QTY_LESS_THAN_ZERO
	-4004: exchange.ErrInvalidOrder,       // QTY_LESS_THAN_MIN_QTY
	-4005: exchange.ErrInvalidOrder,       // QTY_GREATER_THAN_MAX_QTY
	-4013: exchange.ErrInvalidOrder,       // PRICE_LESS_THAN_MIN_PRICE
	-4014: exchange.ErrInvalidOrder,       // PRICE_NOT_INCREASED_BY_TICK_SIZE
	-4015: exchange.ErrInvalidOrder,       // INVALID_CL_ORD_ID_LEN
	-4016: exchange.ErrInvalidOrder,       // PRICE_HIGHTER_THAN_MULTIPLIER_UP
	-4023: exchange.ErrInvalidOrder,       // QTY_NOT_INCREASED_BY_STEP_SIZE
	-4024: exchange.ErrInvalidOrder,       // PRICE_LOWER_THAN_MULTIPLIER_DOWN
	-4028: exchange.ErrInvalidOrder,       // INVALID_LEVERAGE
	-4046: nil,                            // NO_NEED_TO_CHANGE_MARGIN_TYPE: harmless
	-4047: exchange.ErrSettingLocked,      // THERE_EXISTS_OPEN_ORDERS: margin type change refused
	-4048: exchange.ErrSettingLocked,      // THERE_EXISTS_QUANTITY: margin type change refused
	-4059: nil,                            // NO_NEED_TO_CHANGE_POSITION_SIDE: harmless
	-4061: exchange.ErrPositionMode,       // POSITION_SIDE_NOT_MATCH
	-4062: exchange.ErrReduceOnlyRejected, // REDUCE_ONLY_CONFLICT
	-4067: exchange.ErrSettingLocked,      // POSITION_SIDE_CHANGE_EXISTS_OPEN_ORDERS
	-4068: exchange.ErrSettingLocked,      // POSITION_SIDE_CHANGE_EXISTS_QUANTITY
	-4082: exchange.ErrInvalidOrder,       // INVALID_BATCH_PLACE_ORDER_SIZE
	-4083: exchange.ErrInvalidOrder,       // PLACE_BATCH_ORDERS_FAIL
	-4087: exchange.ErrTradingRestricted,  // REDUCE_ONLY_ORDER_PERMISSION
	-4088: exchange.ErrTradingRestricted,  // NO_PLACE_ORDER_PERMISSION
	-4105: exchange.ErrTradingRestricted,  // SYMBOL_REDUCE_ONLY
	-4106: exchange.ErrTradingRestricted,  // SYMBOL_REDUCE_ONLY_BUY
	-4107: exchange.ErrTradingRestricted,  // SYMBOL_REDUCE_ONLY_SELL
	-4109: exchange.ErrTradingRestricted,  // INACTIVE_ACCOUNT
	-4116: exchange.ErrDuplicateClientOrderID,
	-4118: exchange.ErrReduceOnlyRejected, // REDUCE_ONLY_MARGIN_CHECK_FAILED
	-4120: exchange.ErrUnsupported,        // STOP_ORDER_SWITCH_ALGO
	-4131: exchange.ErrInvalidOrder,       // MARKET_ORDER_REJECT (PERCENT_PRICE)
	-4140: exchange.ErrTradingRestricted,  // INVALID_OPENING_POSITION_STATUS: symbol not open for new positions
	-4161: exchange.ErrSettingLocked,      // ISOLATED_LEVERAGE_REJECT_WITH_POSITION
	-4164: exchange.ErrInvalidOrder,       // MIN_NOTIONAL
	-4189: exchange.ErrTradingRestricted,  // ACCOUNT_REDUCE_ONLY
	-4202: exchange.ErrInvalidOrder,       // ADJUST_LEVERAGE_KYC_FAILED: leverage above the account's cap, as -4028
	-4203: exchange.ErrInvalidOrder,       // ADJUST_LEVERAGE_ONE_MONTH_FAILED
	-4205: exchange.ErrInvalidOrder,       // ADJUST_LEVERAGE_X_DAYS_FAILED
	-4206: exchange.ErrInvalidOrder,       // ADJUST_LEVERAGE_KYC_LIMIT
	-4208: exchange.ErrInvalidOrder,       // ADJUST_LEVERAGE_ACCOUNT_SYMBOL_FAILED
	-4209: exchange.ErrInvalidOrder,       // ADJUST_LEVERAGE_SYMBOL_FAILED
	-4400: exchange.ErrTradingRestricted,  // TRADING_QUANTITATIVE_RULE
	-4401: exchange.ErrTradingRestricted,  // LARGE_POSITION_SYM_RULE
	-4403: exchange.ErrInvalidOrder,       // ADJUST_LEVERAGE_COMPLIANCE_FAILED
	-4531: exchange.ErrSettingLocked,      // CM account blocks the UM/CM position-mode sync (2026-05-13)
	-5021: exchange.ErrInvalidOrder,       // FOK_ORDER_REJECT
	-5022: exchange.ErrPostOnlyRejected,   // GTX_ORDER_REJECT
	-5024: exchange.ErrTradingRestricted,  // modify: symbol not trading
	-5025: exchange.ErrUnsupported,        // modify: only LIMIT orders
	-5026: exchange.ErrInvalidOrder,       // modify: too many modifications
	-5027: exchange.ErrInvalidOrder,       // modify: no need to modify
	-5028: exchange.ErrClockSkew,          // ME_RECVWINDOW_REJECT
	-5029: exchange.ErrInvalidOrder,       // modify: minimum notional
	-5037: exchange.ErrInvalidOrder,       // price match validation
	-5038: exchange.ErrInvalidOrder,       // STP validation
	-5039: exchange.ErrInvalidOrder,       // goodTillDate validation
	-5040: exchange.ErrInvalidOrder,       // goodTillDate validation
	-5043: exchange.ErrInvalidOrder,       // modify: a modification is pending
}

// genericCodes are the codes of the protocol sheet deliberately left
// without a sentinel, with the reason: a *exchange.VenueError with a nil
// Kind carries their code and message. Every other code of the sheet maps
// to a sentinel (TestSheetCodesTyped checks both lists against it).
var genericCodes = map[int]string{
	-4046: "NO_NEED_TO_CHANGE_MARGIN_TYPE: harmless, the margin type is already the one asked for",
	-4059: "NO_NEED_TO_CHANGE_POSITION_SIDE: harmless; SetPositionMode treats it as success",
	-2016: "NO_TRADING_WINDOW: answers the 24 h ticker, which the adapter never calls",
}

// kindOf returns the sentinel of a Binance code: the table, else the
// family (-11xx parameter problems are invalid orders), else nil.
func kindOf(code int) error {
	if k, ok := codeKinds[code]; ok {
		return k
	}
	if code <= -1100 && code > -1200 {
		return exchange.ErrInvalidOrder
	}
	return nil
}

// apiError is the body of every Binance error: {"code":-1121,"msg":"..."}.
type apiError struct {
	Code *int   `json:"code"`
	Msg  string `json:"msg"`
}

// decodeAPIError decodes an error body. ok is false when body is not an
// error object with a negative code.
func decodeAPIError(body []byte) (code int, msg string, ok bool) {
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil || e.Code == nil || *e.Code >= 0 {
		return 0, "", false
	}
	return *e.Code, e.Msg, true
}

var bannedUntil = regexp.MustCompile(`banned until (\d{10,16})`)

// errorFromResponse turns an HTTP status ≥ 400, or a 200 body with a
// negative code, into the typed error callers branch on:
//   - 429/418, -1003 and -1015 → *exchange.RateLimitError (RetryAfter from the
//     Retry-After header, the "banned until" time, or the next window boundary);
//   - -1000/-1006/-1007, 5xx other than a certain 503, and 408 on an
//     operation that changes state → *exchange.UnknownOutcomeError;
//   - everything else → *exchange.VenueError whose Kind is the code's sentinel.
//
// op names the operation; mutating says whether it changes venue state (so
// an unknown outcome matters); sentAt is when the request was sent; now is
// the current (server-adjusted) time used for the ban arithmetic.
func errorFromResponse(op string, mutating bool, status int, header http.Header, body []byte, sentAt, now time.Time) error {
	code, msg, ok := decodeAPIError(body)
	if !ok {
		msg = string(truncate(body, 200))
		switch {
		case status == http.StatusUnauthorized:
			code = -2015
		case status == http.StatusTooManyRequests || status == http.StatusTeapot:
			code = -1003
		}
	}
	ve := &exchange.VenueError{Venue: venueName, Code: code, Msg: msg, HTTPStatus: status, Kind: kindOf(code)}
	if !ok && code == 0 {
		ve.Kind = nil
	}
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusTeapot || code == -1003 || code == -1015 || status == http.StatusForbidden:
		if ve.Kind == nil {
			ve.Kind = exchange.ErrRateLimited
		}
		return &exchange.RateLimitError{RetryAfter: retryAfter(header, msg, code, now), Banned: status == http.StatusTeapot, Err: ve}
	case code == -1000 || code == -1006 || code == -1007:
		return &exchange.UnknownOutcomeError{Op: op, SentAt: sentAt, Err: ve}
	case status == http.StatusRequestTimeout || (status >= 500 && code != -1008 && code != -1001):
		if status == http.StatusServiceUnavailable && (code == -1008 || msg == "Service Unavailable." || strings.Contains(msg, "Service Unavailable")) {
			ve.Kind = exchange.ErrUnavailable
			return ve
		}
		if mutating {
			if ve.Kind == nil {
				ve.Kind = exchange.ErrUnknownOutcome
			}
			return &exchange.UnknownOutcomeError{Op: op, SentAt: sentAt, Err: ve}
		}
		if ve.Kind == nil {
			ve.Kind = exchange.ErrUnavailable
		}
		return ve
	}
	return ve
}

// maxRetryAfter caps the wait of a rate-limit answer: Binance's longest
// ban is 3 days (sheet §3.3), and a longer figure is malformed.
const maxRetryAfter = 3 * 24 * time.Hour

// retryAfter picks the wait of a rate-limit answer: the Retry-After header
// (delay-seconds, or an HTTP date, RFC 9110 §10.2.3), else the "banned
// until <ms>" of the message, else the next window boundary: 10 seconds
// for -1015 (order count) unless its message names a MINUTE, DAY or HOUR
// window, a minute otherwise (weight). It is never negative and at most
// maxRetryAfter; now is the server-adjusted time.
func retryAfter(h http.Header, msg string, code int, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if d, ok := parseRetryAfter(v, now); ok {
			return d
		}
	}
	if m := bannedUntil.FindStringSubmatch(msg); m != nil {
		if ms, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			if d := time.UnixMilli(ms).Sub(now); d > 0 {
				return min(d, maxRetryAfter)
			}
		}
	}
	window := time.Minute
	if code == -1015 {
		switch {
		case strings.Contains(msg, "DAY"):
			window = 24 * time.Hour
		case strings.Contains(msg, "HOUR"):
			window = time.Hour
		case strings.Contains(msg, "MINUTE"):
			window = time.Minute
		default:
			window = 10 * time.Second
		}
	}
	d := now.Truncate(window).Add(window).Sub(now)
	if d <= 0 {
		d = window
	}
	return d
}

// parseRetryAfter reads a Retry-After value: whole seconds (capped at
// maxRetryAfter, so a huge figure cannot overflow into a negative wait) or
// an HTTP date (a date already past is a wait of zero).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, false
		}
		if err != nil || n > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), maxRetryAfter), true
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// batchItemError turns one element of a batch answer that is an error
// object into the typed error of that order.
func batchItemError(op string, code int, msg string, sentAt time.Time) error {
	ve := &exchange.VenueError{Venue: venueName, Code: code, Msg: msg, Kind: kindOf(code)}
	if code == -1000 || code == -1006 || code == -1007 {
		return &exchange.UnknownOutcomeError{Op: op, SentAt: sentAt, Err: ve}
	}
	if code == -1003 || code == -1015 {
		return &exchange.RateLimitError{Err: ve}
	}
	return ve
}

// errNotSigned is returned by private calls on a Client without credentials.
var errNotSigned = fmt.Errorf("binance: this call needs Config.APIKey and Config.APISecret: %w", exchange.ErrAuth)

// isCode reports whether err is a Binance error with that code.
func isCode(err error, code int) bool {
	var ve *exchange.VenueError
	return errors.As(err, &ve) && ve.Code == code
}
