package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/examples/internal/clitest"
	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance"
	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/slot"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// noEnv is an environment without Binance keys, whatever the test
// machine's is.
var noEnv = env{getenv: func(string) string { return "" }}

// btcRules are the local server's BTCUSDT rules (protocol sheet's filters).
var btcRules = func() exchange.Rules {
	s := binancetest.BTCUSDT()
	return exchange.Rules{Symbol: s.Name, TickSize: s.TickSize, StepSize: s.StepSize, MinQty: s.MinQty, MinNotional: s.MinNotional}
}()

// TestDryRunLocal runs dry runs against the local server, which opens at
// the recording's first price, 95505.4, and checks the printed orders line
// by line: they are what the engine asks for at that price once the order
// stream is ready, and nothing reaches the venue.
func TestDryRunLocal(t *testing.T) {
	const header = `gridmesh binance — dry run: nothing is placed (-live places orders)
venue    local binancetest server (in-process; recorded BTCUSDT prices)
symbol   BTCUSDT: tick 0.1, step 0.001, min qty 0.001, min notional 50
price    95505.4 (bookTicker midpoint)
`
	const passed = "pre-start checks: passed (account-config, leverage, rules, profit, position-capacity, margin, liquidation)\n"
	const exits = "Each entry's exit is placed once the entry fills: one level up for a BUY, one level down for a SELL.\n"
	for _, tc := range []struct {
		name string
		args []string
		want string // stdout after the header
	}{{
		// Levels 95000, 95250, 95500, 95750, 96000 (indices 0–4). The level
		// above the price, 95750, is bought at once (200 / 95750 → 0.002);
		// the three below rest as post-only entries; the top level has no
		// exit above it and no slot.
		name: "long",
		args: []string{"-lower", "95000", "-upper", "96000", "-intervals", "4"},
		want: `account  wallet 10000.00, available 10000.00, ONE_WAY mode, no BTCUSDT position
grid     long, bounded 95000.0–96000.0 in 4 intervals, notional 200 per order, window 10, ONE_WAY mode, grid ID bn

The grid would place 4 orders now:
  BUY   MARKET     at market  0.002  gmbn_I_1
  BUY   LIMIT GTX    95000.0  0.002  gmbn_0_1
  BUY   LIMIT GTX    95250.0  0.002  gmbn_1_1
  BUY   LIMIT GTX    95500.0  0.002  gmbn_2_1
The MARKET order buys at once the position of the levels above the price; their exits rest one level further.
` + exits + "\n" + passed,
	}, {
		// The mirror: 95250 and 95500 are sold at once, 95750 and 96000 rest.
		name: "short",
		args: []string{"-mode", "short", "-lower", "95000", "-upper", "96000", "-intervals", "4", "-grid-id", "s1"},
		want: `account  wallet 10000.00, available 10000.00, ONE_WAY mode, no BTCUSDT position
grid     short, bounded 95000.0–96000.0 in 4 intervals, notional 200 per order, window 10, ONE_WAY mode, grid ID s1

The grid would place 3 orders now:
  SELL  MARKET     at market  0.004  gms1_I_1
  SELL  LIMIT GTX    95750.0  0.002  gms1_3_1
  SELL  LIMIT GTX    96000.0  0.002  gms1_4_1
The MARKET order sells at once the position of the levels below the price; their exits rest one level further.
` + exits + "\n" + passed,
	}, {
		// A neutral grid trades in hedge mode (the local account is put in
		// it): the nearest buy on the LONG side, the nearest sell on the
		// SHORT side, no initial position.
		name: "neutral",
		args: []string{"-mode", "neutral", "-lower", "95000", "-upper", "96000", "-intervals", "4", "-window", "1"},
		want: `account  wallet 10000.00, available 10000.00, HEDGE mode, no BTCUSDT position
grid     neutral, bounded 95000.0–96000.0 in 4 intervals, notional 200 per order, window 1, HEDGE mode, grid ID bn

The grid would place 2 orders now:
  BUY   LIMIT GTX LONG   95500.0  0.002  gmbn_2_1
  SELL  LIMIT GTX SHORT  95750.0  0.002  gmbn_3_1
` + exits + "\n" + passed,
	}, {
		// A trailing grid counts its levels from the price, entries only:
		// 150 / 95405.4 → 0.001.
		name: "trailing",
		args: []string{"-trailing", "100", "-layers", "3", "-window", "2", "-amount", "150", "-grid-id", "t1"},
		want: `account  wallet 10000.00, available 10000.00, ONE_WAY mode, no BTCUSDT position
grid     long, trailing, interval 100, layer cap 3, notional 150 per order, window 2, ONE_WAY mode, grid ID t1

The grid would place 2 orders now:
  BUY   LIMIT GTX  95305.4  0.001  gmt1_-2_1
  BUY   LIMIT GTX  95405.4  0.001  gmt1_-1_1
` + exits + "\n" + passed,
	}, {
		// A plan the checks refuse is printed all the same, with why.
		name: "checks fail",
		args: []string{"-lower", "95000", "-upper", "96000", "-intervals", "4", "-window", "1", "-no-initial", "-leverage", "20"},
		want: `account  wallet 10000.00, available 10000.00, ONE_WAY mode, no BTCUSDT position
grid     long, bounded 95000.0–96000.0 in 4 intervals, notional 200 per order, window 1, ONE_WAY mode, grid ID bn

The grid would place 1 order now:
  BUY   LIMIT GTX  95500.0  0.002  gmbn_2_1
` + exits + `
pre-start checks: FAILED — -live would refuse to start:
  risk check leverage: leverage 20x is above the maximum 10x: lower the plan's leverage
`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var srv *binancetest.Server
			e := noEnv
			e.onLocal = func(s *binancetest.Server) { srv = s }
			var out, errOut bytes.Buffer
			sum, err := run(context.Background(), append([]string{"-local"}, tc.args...), &out, &errOut, e)
			require.NoError(t, err, "stderr: %s", errOut.String())
			assert.Equal(t, header+tc.want, out.String())
			assert.False(t, sum.Live)
			assert.True(t, sum.Checked)
			assert.Equal(t, "95505.4", sum.StartPrice.String())
			assert.Equal(t, 0, srv.Requests("POST", "/fapi/v1/order")+srv.Requests("POST", "/fapi/v1/batchOrders"), "a dry run places nothing")
			assert.Empty(t, srv.OpenOrders("BTCUSDT"))
			for _, r := range sum.Orders {
				if r.Type == exchange.Limit {
					assert.NoError(t, btcRules.CheckOrder(r.Price, r.Quantity), "%+v", r)
				}
			}
		})
	}
}

// TestDryRunDefaultBounds checks the default range: 2.5 % either side of
// the price, rounded to the tick, in 20 intervals.
func TestDryRunDefaultBounds(t *testing.T) {
	var out bytes.Buffer
	sum, err := run(context.Background(), []string{"-local"}, &out, io.Discard, noEnv)
	require.NoError(t, err)
	// 95505.4 × 0.975 = 93117.765 → 93117.8; × 1.025 = 97893.035 → 97893.0
	assert.Contains(t, out.String(), "grid     long, bounded 93117.8–97893.0 in 20 intervals (2.5 % either side of the price), notional 200 per order")
	require.NotEmpty(t, sum.Orders)
	assert.Equal(t, "gmbn_I_1", sum.Orders[0].ClientOrderID)
	assert.Equal(t, exchange.Market, sum.Orders[0].Type)
	assert.Equal(t, 11, len(sum.Orders), "the market order and the 10 entries of the window")
}

func TestBadFlagsAreUsageErrors(t *testing.T) {
	withKey := env{getenv: func(k string) string {
		if k == envAPIKey {
			return "k"
		}
		return ""
	}}
	for _, tc := range []struct {
		args []string
		e    env
		want string
	}{
		{[]string{"-mode", "sideways"}, noEnv, `-mode: grid mode "sideways": want long, short or neutral`},
		{[]string{"-amount", "lots"}, noEnv, `-amount "lots" is not a decimal number`},
		{[]string{"-amount", "-5"}, noEnv, "-amount -5 must be positive"},
		{[]string{"-leverage", "0"}, noEnv, "-leverage 0 must be 1 to 125"},
		{[]string{"-lower", "95000"}, noEnv, "set both -lower and -upper, or neither (2.5 % either side of the price)"},
		{[]string{"-trailing", "100", "-lower", "1", "-upper", "2"}, noEnv, "-trailing makes an unbounded grid: drop -lower and -upper"},
		{[]string{"-window", "0"}, noEnv, "-window 0 must be at least 1"},
		{[]string{"-grid-id", "a_b"}, noEnv, `-grid-id: grid ID "a_b": character '_' is not a letter or digit`},
		{[]string{"-symbol", "btcusdt"}, noEnv, `-symbol "btcusdt" must be an upper-case symbol such as BTCUSDT`},
		{[]string{"-speed", "0"}, noEnv, "-speed 0 must be above 0 and at most 1e6"},
		{[]string{"-coalesce", "-1s"}, noEnv, "-coalesce -1s must not be negative"},
		{[]string{"-local", "-testnet"}, noEnv, "-local and -testnet exclude each other"},
		{[]string{"-local", "-symbol", "ETHUSDT"}, noEnv, `-local lists BTCUSDT only (it replays recorded BTCUSDT prices), not "ETHUSDT"`},
		{[]string{"-live"}, noEnv, "-live needs BINANCE_API_KEY and BINANCE_API_SECRET in the environment (or -local)"},
		{[]string{}, withKey, "set both BINANCE_API_KEY and BINANCE_API_SECRET, or neither"},
		{[]string{"-nope"}, noEnv, "flag provided but not defined: -nope"},
		{[]string{"extra"}, noEnv, `unexpected argument "extra"`},
		// The grid is all flags: levels that break the venue's rules are
		// found once the rules are loaded, and are usage errors too.
		{[]string{"-local", "-lower", "95000", "-upper", "96000", "-intervals", "4", "-amount", "40"}, noEnv,
			"grid: level 0 at 95000: quantity 0 is below the minimum 0.001"},
	} {
		var out, errOut bytes.Buffer
		_, err := run(context.Background(), tc.args, &out, &errOut, tc.e)
		require.True(t, cli.IsUsage(err), "%v: %v", tc.args, err)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
		assert.Empty(t, out.String(), "%v: nothing printed", tc.args)
	}
	// Every problem is reported at once.
	_, err := run(context.Background(), []string{"-mode", "up", "-leverage", "200"}, io.Discard, io.Discard, noEnv)
	assert.EqualError(t, err, `-mode: grid mode "up": want long, short or neutral; -leverage 200 must be 1 to 125`)
}

// TestSecretsNeverPrinted reads keys from the environment: they are held
// as binance.Secret values, which print redacted in every form.
func TestSecretsNeverPrinted(t *testing.T) {
	const key, secret = "key-4f1d9c", "secret-77aa01"
	e := env{getenv: func(k string) string {
		switch k {
		case envAPIKey:
			return key
		case envAPISecret:
			return secret
		}
		return ""
	}}
	f, err := parseFlags([]string{"-testnet"}, io.Discard)
	require.NoError(t, err)
	s, err := f.check(e.getenv)
	require.NoError(t, err)
	assert.Equal(t, key, s.apiKey.Reveal())
	assert.Equal(t, "[REDACTED] [REDACTED]", fmt.Sprintf("%v %+v", s.apiKey, s.apiSecret))
	for _, form := range []string{fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s)} {
		assert.NotContains(t, form, secret)
		assert.NotContains(t, form, key)
	}
}

// observer counts the order events of the local account's user-data
// stream on a connection of its own (the same listen key as the
// runner's, so the same events in the same order) and reports each
// marker it sees with the count so far.
type observer struct {
	c       *binance.Client
	markers chan [2]int // marker number, order events up to and including it
	done    chan struct{}
}

// The observer's goroutine ends when ctx ends (its stream closes).

func newObserver(ctx context.Context, srv *binancetest.Server) (*observer, error) {
	c, err := binance.New(binance.Config{RESTURL: srv.URL(), WSURL: srv.WSURL(),
		APIKey: binance.NewSecret(binancetest.APIKey), APISecret: binance.NewSecret(binancetest.APISecret)})
	if err != nil {
		return nil, err
	}
	events, err := c.SubscribeUserData(ctx)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	if ev := <-events; ev.Kind != exchange.EventReady {
		_ = c.Close()
		return nil, fmt.Errorf("observer: first event %s, want READY", ev.Kind)
	}
	o := &observer{c: c, markers: make(chan [2]int, 16), done: make(chan struct{})}
	go func() {
		defer close(o.done)
		n := 0
		for ev := range events {
			if ev.Kind != exchange.EventOrder {
				continue
			}
			n++
			var m int
			if _, err := fmt.Sscanf(ev.Order.ClientOrderID, "marker-%d", &m); err == nil {
				select {
				case o.markers <- [2]int{m, n}:
				case <-ctx.Done():
				}
			}
		}
	}()
	return o, nil
}

func (o *observer) close() {
	_ = o.c.Close()
	<-o.done
}

// marker is an ORDER_TRADE_UPDATE of a symbol the grid does not trade:
// the runner counts it as an order event and ignores it.
func marker(n int) []byte {
	return fmt.Appendf(nil, `{"e":"ORDER_TRADE_UPDATE","E":1,"T":1,"o":{"s":"MARKERUSDT","c":"marker-%d","S":"BUY","o":"LIMIT","f":"GTC",`+
		`"q":"1","p":"1","ap":"0","sp":"0","x":"NEW","X":"NEW","i":%d,"l":"0","z":"0","L":"0","T":1,"t":0,"R":false,"ps":"BOTH","er":"0"}}`, n, n)
}

// liveOrder is one live order in a form both books can be put in.
type liveOrder struct {
	Side         string
	Price, Qty   string
	Filled       string
	PositionSide string
}

// snap is the engine as the runner's owner goroutine saw it when idle.
type snap struct {
	state    grid.IdleState
	price    exchange.Ticks
	position string
	open     int
	orders   map[string]liveOrder
	stats    grid.Stats
	invErr   error
}

func takeSnap(eng *grid.Engine, st grid.IdleState) snap {
	r := eng.Rules()
	s := snap{state: st, price: eng.Price(), position: r.StepsToQty(eng.Position()).String(), open: eng.Books().OpenOrders,
		orders: map[string]liveOrder{}, stats: eng.Stats(), invErr: eng.CheckInvariants()}
	eng.Slots(func(v grid.SlotView) {
		sl := v.Slot
		if !sl.Live() {
			return
		}
		side, px := exchange.Buy, v.Price
		if (sl.Kind == slot.Long) != (sl.Role == slot.RoleEntry) {
			side = exchange.Sell
		}
		if sl.Role == slot.RoleExit {
			px = v.Exit
		}
		s.orders[grid.ClientOrderID(eng.GridID(), grid.OrderRef{Level: v.Level, Gen: sl.Gen})] = liveOrder{
			Side: side.String(), Price: r.TicksToPrice(px).String(), Qty: r.StepsToQty(exchange.Steps(sl.OrderQty)).String(),
			Filled: r.StepsToQty(exchange.Steps(sl.Filled)).String(), PositionSide: "BOTH"}
	})
	return s
}

// serverOrders are the venue's live orders of grid gridID.
func serverOrders(srv *binancetest.Server, gridID string) map[string]liveOrder {
	out := map[string]liveOrder{}
	for _, o := range srv.OpenOrders("BTCUSDT") {
		if id, _, err := grid.ParseClientOrderID(o.ClientOrderID); err != nil || id != gridID {
			continue
		}
		out[o.ClientOrderID] = liveOrder{Side: o.Side, Price: o.Price.String(), Qty: o.Quantity.String(), Filled: o.Filled.String(),
			PositionSide: o.PositionSide}
	}
	return out
}

// mutating counts the requests that create or end orders.
func mutating(srv *binancetest.Server) int {
	return srv.Requests("POST", "/fapi/v1/order") + srv.Requests("POST", "/fapi/v1/batchOrders") +
		srv.Requests("DELETE", "/fapi/v1/order") + srv.Requests("DELETE", "/fapi/v1/batchOrders")
}

// scriptResult is what the scripted market saw.
type scriptResult struct {
	steps, checkpoints int
	final              snap
	venueOrders        map[string]liveOrder
	venuePosition      string
	venueFills         int    // trades of the account
	venueFees          string // their fees' exact total, to the money unit (the runner carries what a fee has below the unit)
	mismatches         []string
	err                error
}

// script moves the local market along prices in lockstep with the grid:
// after each price it waits until the runner has taken every order event
// the venue sent, the price, and the answers to every request it made,
// then compares the engine's live orders and position with the server's
// books. It reports the first few mismatches.
func script(ctx context.Context, srv *binancetest.Server, obs *observer, snaps <-chan snap, prices []exchange.Ticks) scriptResult {
	var res scriptResult
	var last snap
	markerN := 0
	// hang guards, not assertions: a wait this long means the runner is stuck
	const guard = 30 * time.Second
	settle := func(price exchange.Ticks) error {
		for round := 1; ; round++ {
			before := mutating(srv)
			markerN++
			srv.PushUserEvent(marker(markerN))
			var total int
			for total == 0 {
				select {
				case m := <-obs.markers:
					if m[0] == markerN {
						total = m[1]
					}
				case <-time.After(guard):
					return fmt.Errorf("observer did not see marker %d", markerN)
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			for last.state.OrderEvents < uint64(total) || last.price != price {
				select {
				case last = <-snaps:
				case <-time.After(guard):
					return fmt.Errorf("runner did not settle at price %d: took %+v, price %d; venue sent %d order events", price, last.state, last.price, total)
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			// A round that began after an idle point and saw no new order
			// request leaves nothing in flight: every event of every
			// request came before its marker.
			if round >= 2 && mutating(srv) == before {
				return nil
			}
		}
	}
	compare := func(where string) {
		res.checkpoints++
		venue := serverOrders(srv, "bn")
		pos := srv.Position("BTCUSDT", "BOTH").String()
		if len(res.mismatches) < 5 {
			if fmt.Sprint(venue) != fmt.Sprint(last.orders) {
				res.mismatches = append(res.mismatches, fmt.Sprintf("%s: orders: venue %v, engine %v", where, venue, last.orders))
			}
			if pos != last.position {
				res.mismatches = append(res.mismatches, fmt.Sprintf("%s: position: venue %s, engine %s", where, pos, last.position))
			}
			if last.open != len(venue) {
				res.mismatches = append(res.mismatches, fmt.Sprintf("%s: engine counts %d open orders, venue has %d", where, last.open, len(venue)))
			}
			if last.invErr != nil {
				res.mismatches = append(res.mismatches, fmt.Sprintf("%s: invariants: %v", where, last.invErr))
			}
		}
		res.venueOrders, res.venuePosition = venue, pos
	}
	if res.err = settle(prices[0]); res.err != nil {
		return res
	}
	compare("start")
	for i, p := range prices {
		if err := srv.SetPrice(ctx, "BTCUSDT", btcRules.TicksToPrice(p)); err != nil {
			res.err = err
			return res
		}
		if res.err = settle(p); res.err != nil {
			return res
		}
		res.steps++
		compare(fmt.Sprintf("step %d at %s", i, btcRules.TicksToPrice(p)))
	}
	res.final = last
	fills, err := obs.c.Fills(ctx, "BTCUSDT", time.Now().Add(-time.Hour))
	if err != nil {
		res.err = err
		return res
	}
	exact := decimal.Zero
	for _, f := range fills {
		exact = exact.Add(f.Fee)
	}
	fees, err := btcRules.DecimalToMoney(exact)
	if err != nil {
		res.err = err
		return res
	}
	res.venueFills, res.venueFees = len(fills), btcRules.MoneyToDecimal(fees).String()
	return res
}

// scriptPrices are the first n candles' paths, with repeats dropped.
func scriptPrices(t *testing.T, n int) []exchange.Ticks {
	t.Helper()
	path, err := cli.FindData(cli.DefaultData)
	require.NoError(t, err)
	candles, err := pricefeed.ReadCandlesFile(path, btcRules)
	require.NoError(t, err)
	var out []exchange.Ticks
	for _, c := range candles[:n] {
		for _, p := range c.Path() {
			if len(out) == 0 || out[len(out)-1] != p {
				out = append(out, p)
			}
		}
	}
	return out
}

// TestLocalLiveBooksAgree trades live on the local venue over a scripted
// stretch of the recording, in lockstep, and checks after every price that
// the engine and the server's books agree: the grid's open orders on the
// venue are exactly the engine's live orders (ID, side, price, quantity,
// filled) and the venue's position is the engine's. Then it stops the run
// as Ctrl-C does: the entries are canceled, or kept with -keep-orders.
func TestLocalLiveBooksAgree(t *testing.T) {
	prices := scriptPrices(t, 120)
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep-orders=%v", keep), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			snaps := make(chan snap, 1)
			var obs *observer
			var obsErr error
			var res scriptResult
			var srv *binancetest.Server
			e := noEnv
			e.onLocal = func(s *binancetest.Server) {
				srv = s
				obs, obsErr = newObserver(ctx, s)
			}
			e.idle = func(eng *grid.Engine, st grid.IdleState) {
				s := takeSnap(eng, st)
				select {
				case <-snaps: // keep only the newest
				default:
				}
				snaps <- s
			}
			e.market = func(mctx context.Context, s *binancetest.Server) error {
				defer cancel() // the stretch is over: stop the run, as Ctrl-C does
				if obsErr != nil {
					res.err = obsErr
					return nil
				}
				res = script(mctx, s, obs, snaps, prices)
				return nil
			}
			args := []string{"-local", "-live", "-lower", "95000", "-upper", "96000", "-intervals", "20", "-window", "4", "-coalesce", "0"}
			if keep {
				args = append(args, "-keep-orders")
			}
			var out, errOut bytes.Buffer
			sum, err := run(ctx, args, &out, &errOut, e)
			if obs != nil {
				obs.close()
			}
			require.NoError(t, err, "stderr:\n%s", errOut.String())
			require.NoError(t, obsErr)
			require.NoError(t, res.err, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
			assert.Equal(t, len(prices), res.steps)
			assert.Empty(t, res.mismatches, "engine and venue disagree")

			f := res.final.stats
			assert.GreaterOrEqual(t, f.RoundTrips, 3, "the stretch trades")
			t.Logf("%d prices, %d checkpoints; engine: %d fills, %d round trips, %d placed, %d canceled, fees %s; %d orders live at the end",
				len(prices), res.checkpoints, f.Fills, f.RoundTrips, f.Placed, f.Canceled, f.Fees, len(res.final.orders))
			assert.Zero(t, f.Rejected, "nothing refused")
			assert.Zero(t, f.Illegal, "no update contradicted the engine")
			assert.False(t, f.Halted, f.Reason)
			assert.True(t, sum.Interrupted)
			assert.Equal(t, res.venuePosition, sum.VenuePos.String(), "nothing traded after the stretch")
			assert.Equal(t, res.final.position, sum.Engine.Position.String())
			assert.Equal(t, f.Fills, sum.Engine.Fills)
			// Every trade of the venue was booked once, with its fee.
			assert.Equal(t, res.venueFills, f.Fills, "fills")
			assert.Equal(t, res.venueFees, f.Fees.String(), "fees")

			// What stopping left on the venue.
			left := map[string]liveOrder{}
			for _, o := range sum.VenueOrders {
				left[o.ClientOrderID] = liveOrder{Side: o.Side.String(), Price: o.Price.String(), Qty: o.Quantity.String(),
					Filled: o.FilledQty.String(), PositionSide: o.PositionSide.String()}
			}
			want := map[string]liveOrder{}
			for id, o := range res.final.orders {
				if keep || o.Side == "SELL" { // a long grid's exits sell
					want[id] = o
				}
			}
			assert.Equal(t, want, left)
			assert.Equal(t, left, serverOrders(srv, "bn"))
			assert.Contains(t, out.String(), "live run interrupted after ")
			assert.Regexp(t, fmt.Sprintf(`position \(engine / venue\) +%s / %s\n`, regexp.QuoteMeta(res.final.position), regexp.QuoteMeta(res.venuePosition)), out.String())
		})
	}
}

// TestCommand builds the command and runs it as a user does: a bad flag
// exits with status 2; a local dry run exits with 0; a local live run
// stopped by SIGINT (Ctrl-C) exits with 0, its entries canceled.
func TestCommand(t *testing.T) {
	bin := clitest.Build(t, "binance")
	clean := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")} // no keys

	cmd := exec.Command(bin, "-mode", "sideways")
	cmd.Env = clean
	clitest.UsageFails(t, cmd, "sideways")

	cmd = exec.Command(bin, "-local", "-lower", "95000", "-upper", "96000", "-intervals", "4")
	cmd.Env = clean
	out, err := cmd.Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), "  BUY   LIMIT GTX    95500.0  0.002  gmbn_2_1\n")

	cmd = exec.Command(bin, "-local", "-live", "-lower", "93000", "-upper", "98000", "-intervals", "50", "-speed", "12000")
	cmd.Env = clean
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	all, signaled := clitest.InterruptAt(t, cmd, "round trip at level", stderr.String)
	assert.True(t, signaled, "%s", all)
	assert.Contains(t, all, "gridmesh binance — LIVE: the grid places orders")
	assert.Contains(t, all, "live run interrupted after ")
	assert.Contains(t, all, "(entries canceled, exits kept)")
	assert.Contains(t, stderr.String(), `msg="grid: started" grid=bn symbol=BTCUSDT`)
}

// lockedBuffer is a bytes.Buffer safe for the writer goroutine of exec.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
