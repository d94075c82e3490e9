package binancetest

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// APIKey and APISecret are the credentials a Server accepts unless
// WithCredentials says otherwise: the key pair of the HMAC test vector in
// Binance's documentation (protocol sheet §2.2).
const (
	APIKey    = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"
	APISecret = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
)

// Symbol describes one contract the server lists. Zero decimals and
// precisions take BTCUSDT's values from the sheet's exchangeInfo sample.
type Symbol struct {
	Name              string
	TickSize          decimal.Decimal
	StepSize          decimal.Decimal
	MinQty            decimal.Decimal
	MaxQty            decimal.Decimal
	MinPrice          decimal.Decimal
	MaxPrice          decimal.Decimal
	MinNotional       decimal.Decimal
	PricePrecision    int
	QuantityPrecision int
	// Price is the market price the symbol starts at.
	Price decimal.Decimal
}

// BTCUSDT is the default symbol: the sheet's BTCUSDT filters (tick 0.10,
// step 0.001, min notional 50) starting at 60000.
func BTCUSDT() Symbol {
	return Symbol{
		Name: "BTCUSDT", TickSize: decimal.RequireFromString("0.10"), StepSize: decimal.RequireFromString("0.001"),
		MinQty: decimal.RequireFromString("0.001"), MaxQty: decimal.RequireFromString("1000"),
		MinPrice: decimal.RequireFromString("556.80"), MaxPrice: decimal.RequireFromString("4529764"),
		MinNotional: decimal.RequireFromString("50"), PricePrecision: 2, QuantityPrecision: 3,
		Price: decimal.RequireFromString("60000"),
	}
}

type options struct {
	apiKey, secret  string
	symbols         []Symbol
	balance         decimal.Decimal
	makerFee        decimal.Decimal
	takerFee        decimal.Decimal
	hedge           bool
	fillParts       int
	weightLimit     int
	orders10s       int
	orders1m        int
	clock           func() time.Time
	listenKeyTTL    time.Duration
	retryAfter      bool
	listenKeySeed   uint64
	maxOpenOrders   int
	defaultLeverage int
	pingEvery       time.Duration
	seeds           []seed
	maintRate       decimal.Decimal
	marginCallRatio decimal.Decimal
	periodic        bool
	depthLevels     int
}

// Option configures a [Server].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithCredentials sets the API key and secret the server accepts.
func WithCredentials(key, secret string) Option {
	return optionFunc(func(o *options) { o.apiKey, o.secret = key, secret })
}

// WithSymbol lists a symbol (the first WithSymbol replaces the default
// BTCUSDT).
func WithSymbol(s Symbol) Option {
	return optionFunc(func(o *options) { o.symbols = append(o.symbols, s) })
}

// WithBalance sets the starting USDT wallet balance (default 10000).
func WithBalance(d decimal.Decimal) Option { return optionFunc(func(o *options) { o.balance = d }) }

// WithFees sets the maker and taker fee rates (defaults 0.0002 and
// 0.0005); a negative maker rate is a rebate, reported as a negative
// commission.
func WithFees(maker, taker decimal.Decimal) Option {
	return optionFunc(func(o *options) { o.makerFee, o.takerFee = maker, taker })
}

// WithHedgeMode starts the account in hedge mode (dualSidePosition true).
func WithHedgeMode() Option { return optionFunc(func(o *options) { o.hedge = true }) }

// WithFillParts sets in how many trades a resting order fills when the
// price reaches it (default 2: PARTIALLY_FILLED then FILLED when the order
// has at least two steps; 1 fills at once).
func WithFillParts(n int) Option { return optionFunc(func(o *options) { o.fillParts = n }) }

// WithWeightLimit sets the REQUEST_WEIGHT limit per minute (default 2400);
// a request over it is answered 429 with -1003.
func WithWeightLimit(n int) Option { return optionFunc(func(o *options) { o.weightLimit = n }) }

// WithOrderLimits sets the ORDERS limits per 10 seconds and per minute
// (defaults 300 and 1200); an order over either is answered 429 with -1015.
func WithOrderLimits(per10s, per1m int) Option {
	return optionFunc(func(o *options) { o.orders10s, o.orders1m = per10s, per1m })
}

// WithClock sets the server's clock (default time.Now); SetClockOffset
// shifts it further.
func WithClock(now func() time.Time) Option { return optionFunc(func(o *options) { o.clock = now }) }

// WithListenKeyTTL sets how long a listen key lives without keepalive
// (default 60 minutes).
func WithListenKeyTTL(d time.Duration) Option {
	return optionFunc(func(o *options) { o.listenKeyTTL = d })
}

// WithoutRetryAfter omits the Retry-After header on 429 answers (the
// futures docs do not promise it; the spot docs do).
func WithoutRetryAfter() Option { return optionFunc(func(o *options) { o.retryAfter = false }) }

// WithPingInterval sets how often the server pings each WebSocket
// (default 3 minutes, as Binance does; zero or negative turns pings off).
// [Server.Pongs] counts the answers.
func WithPingInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.pingEvery = d })
}

// WithSeed seeds the listen keys and generated client order IDs.
func WithSeed(seed uint64) Option { return optionFunc(func(o *options) { o.listenKeySeed = seed }) }

// WithMaintenanceRate sets the maintenance margin rate of every position
// (default 0.004, BTCUSDT's first notional bracket; also what
// GET /fapi/v1/leverageBracket reports). A margin balance below
// Σ |notional| × rate liquidates the account.
func WithMaintenanceRate(r decimal.Decimal) Option {
	return optionFunc(func(o *options) { o.maintRate = r })
}

// WithMarginCallRatio sets the margin ratio (maintenance margin / margin
// balance) at which MARGIN_CALL is pushed (default 0.8; assumption: the
// venue does not document its threshold).
func WithMarginCallRatio(r decimal.Decimal) Option {
	return optionFunc(func(o *options) { o.marginCallRatio = r })
}

// WithoutPeriodicStreams stops the timed pushes of the market streams
// (partial depth every 250 ms, 500 ms or 100 ms, markPrice every 3 s or
// 1 s); they then go out only when the market changes.
func WithoutPeriodicStreams() Option { return optionFunc(func(o *options) { o.periodic = false }) }

// WithDepthLevels sets how many price levels the simulated market makers
// quote on each side, one tick apart from the best bid and ask, each of
// MinQty × 1000 (default 20; 0 leaves only the resting orders of the
// account on the book).
func WithDepthLevels(n int) Option { return optionFunc(func(o *options) { o.depthLevels = n }) }

func defaultOptions() options {
	return options{
		apiKey: APIKey, secret: APISecret,
		balance:  decimal.NewFromInt(10000),
		makerFee: decimal.RequireFromString("0.0002"), takerFee: decimal.RequireFromString("0.0005"),
		fillParts: 2, weightLimit: 2400, orders10s: 300, orders1m: 1200,
		clock: time.Now, listenKeyTTL: time.Hour, retryAfter: true, listenKeySeed: 1,
		maxOpenOrders: 200, defaultLeverage: 20, pingEvery: 3 * time.Minute,
		maintRate: decimal.RequireFromString("0.004"), marginCallRatio: decimal.RequireFromString("0.8"),
		periodic: true, depthLevels: 20,
	}
}

func (s *Symbol) fillDefaults() {
	d := BTCUSDT()
	if s.Name == "" {
		s.Name = d.Name
	}
	for _, p := range []struct{ v, def *decimal.Decimal }{
		{&s.TickSize, &d.TickSize}, {&s.StepSize, &d.StepSize}, {&s.MinQty, &d.MinQty}, {&s.MaxQty, &d.MaxQty},
		{&s.MinPrice, &d.MinPrice}, {&s.MaxPrice, &d.MaxPrice}, {&s.MinNotional, &d.MinNotional}, {&s.Price, &d.Price},
	} {
		if p.v.IsZero() {
			*p.v = *p.def
		}
	}
	if s.PricePrecision == 0 {
		s.PricePrecision = decimals(s.TickSize)
	}
	if s.QuantityPrecision == 0 {
		s.QuantityPrecision = decimals(s.StepSize)
	}
}

func decimals(d decimal.Decimal) int {
	if e := d.Exponent(); e < 0 {
		return int(-e)
	}
	return 0
}

// validate reports every bad option at once, each naming the option and
// its value.
func (o *options) validate() error {
	var errs []error
	if o.fillParts < 1 {
		errs = append(errs, fmt.Errorf("binancetest: WithFillParts(%d): want at least 1", o.fillParts))
	}
	if o.depthLevels < 0 || o.depthLevels > 1000 {
		errs = append(errs, fmt.Errorf("binancetest: WithDepthLevels(%d): want 0 to 1000", o.depthLevels))
	}
	if o.maintRate.IsNegative() || o.maintRate.GreaterThanOrEqual(decimal.NewFromInt(1)) {
		errs = append(errs, fmt.Errorf("binancetest: WithMaintenanceRate(%s): want 0 ≤ rate < 1", o.maintRate))
	}
	if !o.marginCallRatio.IsPositive() || o.marginCallRatio.GreaterThan(decimal.NewFromInt(1)) {
		errs = append(errs, fmt.Errorf("binancetest: WithMarginCallRatio(%s): want 0 < ratio ≤ 1", o.marginCallRatio))
	}
	if o.balance.IsNegative() {
		errs = append(errs, fmt.Errorf("binancetest: WithBalance(%s): want a non-negative balance", o.balance))
	}
	names := map[string]bool{}
	for _, sym := range o.symbols {
		if names[sym.Name] {
			errs = append(errs, fmt.Errorf("binancetest: WithSymbol(%q): listed twice", sym.Name))
		}
		names[sym.Name] = true
	}
	return errors.Join(errs...)
}
