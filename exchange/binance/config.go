package binance

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Production and testnet endpoints (protocol sheet §1). The WebSocket bases
// have no path: the adapter appends the 2026 routed paths /public, /market
// and /private.
const (
	ProductionRESTURL = "https://fapi.binance.com"
	ProductionWSURL   = "wss://fstream.binance.com"
	TestnetRESTURL    = "https://demo-fapi.binance.com"
	TestnetWSURL      = "wss://fstream.binancefuture.com"
)

// redacted is what a Secret prints in every form.
const redacted = "[REDACTED]"

// Secret holds an API key or secret. It prints as "[REDACTED]" in every fmt
// verb (%v %+v %#v %s %q), in String, GoString, and in JSON and text
// marshalling, so a Config or an error that carries one never leaks it;
// [Secret.Reveal] is the one way to read it. The zero value is the empty
// secret. A Secret is immutable and safe for concurrent use.
type Secret struct {
	// v points at the value: fmt prints a nested unexported pointer as an
	// address, never the string behind it.
	v *string
}

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: &s} }

// Reveal returns the secret's value.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

// String returns "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString returns "[REDACTED]".
func (s Secret) GoString() string { return redacted }

// Format prints "[REDACTED]" for every verb (quoted for %q).
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, `"`+redacted+`"`)
		return
	}
	_, _ = io.WriteString(f, redacted)
}

// MarshalJSON returns "[REDACTED]" as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[REDACTED]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// PriceSource chooses the market stream behind SubscribePrices. The zero
// value is PriceBookTicker.
type PriceSource uint8

const (
	// PriceBookTicker streams <symbol>@bookTicker on /public: every best
	// bid/ask change, Price being the midpoint.
	PriceBookTicker PriceSource = iota
	// PriceAggTrade streams <symbol>@aggTrade on /market: Price is the
	// last trade, Bid and Ask are zero.
	PriceAggTrade
)

// String returns "bookTicker" or "aggTrade".
func (p PriceSource) String() string {
	if p == PriceAggTrade {
		return "aggTrade"
	}
	return "bookTicker"
}

// Config configures a [Client]. The zero value plus APIKey and APISecret
// talks to production with the defaults below; set RESTURL and WSURL to
// the testnet constants or to a local server (binancetest) instead. A Config
// is a plain value; New copies it.
type Config struct {
	// RESTURL is the REST base, default ProductionRESTURL.
	RESTURL string
	// WSURL is the WebSocket base without a path, default ProductionWSURL.
	WSURL string
	// APIKey and APISecret are the HMAC credentials. Empty credentials
	// allow only public data (rules, klines, market streams).
	APIKey    Secret
	APISecret Secret
	// RecvWindow is sent with every signed request, default 5 s; Binance
	// recommends at most 5 s and refuses 60 s or more.
	RecvWindow time.Duration
	// HTTPClient sends REST requests. Nil means a client of the adapter's
	// own, whose idle connections Close closes.
	HTTPClient *http.Client `json:"-"`
	// Logger receives the adapter's logs; nil discards them.
	Logger *slog.Logger `json:"-"`
	// Clock reads the local time; nil means time.Now. Tests set it. The
	// ends of the venue's rate-limit windows are reported to an executor on
	// this clock: give the executor the same one.
	Clock func() time.Time `json:"-"`
	// PriceSource chooses bookTicker (default) or aggTrade prices.
	PriceSource PriceSource
	// RulesTTL is how long exchangeInfo is cached before Rules refreshes
	// it, default 1 hour. RefreshRules forces a refresh.
	RulesTTL time.Duration
	// KeepAlive is the listen-key keepalive interval, default 30 minutes;
	// it must lie in [1 ms, 50 min] (the key lapses after 60 minutes).
	KeepAlive time.Duration
	// PingInterval is how often the adapter pings each WebSocket, default
	// 1 minute; StaleAfter is how long a connection may stay silent (no
	// message, ping or pong) before it is dropped and redialled, default
	// 3 × PingInterval.
	PingInterval time.Duration
	StaleAfter   time.Duration
	// MaxConnAge is when a WebSocket is replaced before Binance's 24 h cut,
	// default 23 hours.
	MaxConnAge time.Duration
	// ReconnectMin and ReconnectMax bound the exponential reconnect backoff
	// (full jitter between half and all of the current step), defaults
	// 250 ms and 30 s.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// JitterSeed seeds the backoff jitter; zero seeds it from the clock.
	JitterSeed uint64
	// RequestTimeout bounds one REST request when ctx has no deadline,
	// default 10 s.
	RequestTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.RESTURL == "" {
		c.RESTURL = ProductionRESTURL
	}
	if c.WSURL == "" {
		c.WSURL = ProductionWSURL
	}
	c.RESTURL = strings.TrimRight(c.RESTURL, "/")
	c.WSURL = strings.TrimRight(c.WSURL, "/")
	if c.RecvWindow == 0 {
		c.RecvWindow = 5 * time.Second
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.RulesTTL == 0 {
		c.RulesTTL = time.Hour
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 30 * time.Minute
	}
	if c.PingInterval == 0 {
		c.PingInterval = time.Minute
	}
	if c.StaleAfter == 0 {
		c.StaleAfter = 3 * c.PingInterval
	}
	if c.MaxConnAge == 0 {
		c.MaxConnAge = 23 * time.Hour
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = 250 * time.Millisecond
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = 30 * time.Second
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 10 * time.Second
	}
}

// validate reports every problem at once, each naming the field and value.
func (c *Config) validate() error {
	var errs []error
	bad := func(field string, v any, why string) {
		errs = append(errs, fmt.Errorf("binance: Config.%s %v %s", field, v, why))
	}
	for _, u := range []struct {
		field, v string
		schemes  []string
	}{{"RESTURL", c.RESTURL, []string{"http", "https"}}, {"WSURL", c.WSURL, []string{"ws", "wss"}}} {
		p, err := url.Parse(u.v)
		if err != nil || p.Host == "" || (p.Scheme != u.schemes[0] && p.Scheme != u.schemes[1]) {
			bad(u.field, fmt.Sprintf("%q", u.v), "must be an absolute "+u.schemes[0]+"(s) URL")
		}
	}
	if c.RecvWindow < time.Millisecond || c.RecvWindow >= time.Minute {
		bad("RecvWindow", c.RecvWindow, "must lie in [1ms, 60s)")
	}
	if c.APIKey.IsZero() != c.APISecret.IsZero() {
		errs = append(errs, errors.New("binance: Config.APIKey and Config.APISecret must be set together"))
	}
	if c.PriceSource > PriceAggTrade {
		bad("PriceSource", int(c.PriceSource), "is not a known source")
	}
	if c.RulesTTL < 0 {
		bad("RulesTTL", c.RulesTTL, "must not be negative")
	}
	if c.KeepAlive < time.Millisecond || c.KeepAlive > 50*time.Minute {
		bad("KeepAlive", c.KeepAlive, "must lie in [1ms, 50m]")
	}
	if c.PingInterval <= 0 {
		bad("PingInterval", c.PingInterval, "must be positive")
	}
	if c.StaleAfter <= c.PingInterval {
		bad("StaleAfter", c.StaleAfter, "must exceed PingInterval "+c.PingInterval.String())
	}
	if c.MaxConnAge <= 0 || c.MaxConnAge > 24*time.Hour {
		bad("MaxConnAge", c.MaxConnAge, "must lie in (0, 24h]")
	}
	if c.ReconnectMin <= 0 || c.ReconnectMax < c.ReconnectMin {
		bad("ReconnectMin/ReconnectMax", fmt.Sprintf("%s/%s", c.ReconnectMin, c.ReconnectMax), "must be positive with Min <= Max")
	}
	if c.RequestTimeout <= 0 {
		bad("RequestTimeout", c.RequestTimeout, "must be positive")
	}
	return errors.Join(errs...)
}
