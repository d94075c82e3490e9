// Package exchangetest is the conformance suite every [exchange.IExchange]
// adapter passes, in the spirit of testing/fstest.TestFS.
//
// The contract it checks is written where adapter authors read it: the
// documentation of [exchange.IExchange] and of its methods (which errors
// match which sentinel, the order of an order's updates, cumulative
// quantities, fees and trade IDs, EventReady first and no silent loss on
// the order stream, post-only refusals either way, query by client order
// ID, the receive window). This suite checks what a test can check of it;
// where the two differ, the interface's documentation is the contract.
//
// # Running it against a new venue
//
// An adapter's author writes one test that hands the suite a fresh venue
// for each check. The harness carries the adapter under test, a symbol,
// the market price the venue starts at and a hook that moves the venue's
// market price, so the suite can make resting orders fill and post-only
// orders cross:
//
//	func TestConformance(t *testing.T) {
//		exchangetest.Run(t, func(t *testing.T) exchangetest.Harness {
//			srv := myvenuetest.NewServer()              // a local protocol server
//			ex, err := myvenue.New(myvenue.Config{BaseURL: srv.URL()})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return exchangetest.Harness{
//				Exchange: ex,
//				Symbol:   "BTCUSDT",
//				Price:    decimal.RequireFromString("60000"),
//				SetPrice: func(ctx context.Context, p decimal.Decimal) error {
//					return srv.SetPrice(ctx, "BTCUSDT", p)
//				},
//				Cleanup: srv.Close,
//			}
//		})
//	}
//
// The suite calls the constructor once per check (so checks never see each
// other's orders), closes the adapter itself and then calls Cleanup. Run it
// with -race. A venue whose market price the test cannot move (a testnet)
// can still run the checks that need no price move: set SetPrice to nil and
// the fill checks are skipped. A test venue that charges no fees sets
// [Harness.NoFees]; the fee checks then require zero fees instead. A
// placement refused for rate ([exchange.ErrRateLimited]) took no effect,
// so the suite waits the venue's Retry-After and sends it again.
//
// # What it checks
//
//   - Rules are valid and name the symbol; an unlisted symbol is
//     [exchange.ErrInvalidOrder] for Rules and never
//     [exchange.ErrOrderNotFound] for QueryOrder.
//   - Place, query by client order ID, list open orders and cancel (by order
//     ID and by client order ID) round-trip, echoing the client order ID,
//     side, price and quantity; canceling or querying an unknown order, and
//     canceling a closed one, is [exchange.ErrOrderNotFound].
//   - A post-only order that would cross is refused. Venues differ: Binance
//     refuses synchronously ([exchange.ErrPostOnlyRejected], -5022), others
//     accept the order and then expire or cancel it on the order stream.
//     The suite accepts both, because the engine treats them as one event:
//     the slot's entry was rejected and the level is free again. An
//     adapter must produce one of the two, never a resting order.
//   - Prices off the tick and quantities off the step are errors matching
//     [exchange.ErrInvalidOrder], whether the adapter's validation or the
//     venue caught them, and create nothing.
//   - The user-data stream opens with [exchange.EventReady] (not
//     Reconnected) and then delivers, per order and in order, NEW →
//     (PARTIALLY_FILLED →) FILLED or NEW → CANCELED, with the cumulative
//     FilledQty never decreasing and the last-fill quantities adding up to
//     it; a filled order's QueryOrder (FilledQty, AvgPrice), Fills since a
//     time and Positions agree with the stream; a reduce-only (one-way) or
//     position-side (hedge) exit closes what the entry opened.
//   - Fees: every fill, on the stream and in Fills, carries a nonzero
//     signed Fee and its FeeAsset (zero with [Harness.NoFees]), the same
//     in both; a resting order filled by a price move is Maker.
//   - Trade IDs are unique per fill: two fills never share one, on the
//     stream or in Fills, and Fills lists each of the stream's fills once
//     under the stream's trade ID. (Run against a venue that fills a
//     touched order in parts, so that one order has several fills: the
//     suite repeats its price moves until the orders fill.)
//   - A burst ([Harness.BurstOrders] resting orders, 150 by default,
//     placed while the suite does not read the order stream, then filled
//     by one price move) loses no event: every order's NEW and fills
//     arrive in order. Or the stream reports the loss the way the contract
//     asks — [exchange.EventDisconnected], then EventReady with
//     Reconnected set — and then QueryOrder and Fills hold every fill, as
//     the runner reconciles from them. An adapter that drops events when
//     its channel is full, without that signal, fails.
//   - Klines are optional (only grid.WithRiskKlines needs them): an
//     adapter without them answers [exchange.ErrUnsupported] from
//     SubscribeKlines, and the suite skips the kline check and the kline
//     parts of the stream checks. An adapter with them streams "1m"
//     candles that follow SetPrice and answers ErrUnsupported for an
//     interval it does not offer.
//   - Streams close their channel when their context ends. Close returns
//     even while the order stream's consumer has stopped reading a burst
//     of events (it must not wait for consumers), and it stops every
//     goroutine the adapter started: the goroutine count returns to
//     what it was before the adapter's streams were opened (checked with
//     the standard library, within a bounded wait; the goroutine profile is
//     printed when it fails). Calls after Close fail with [exchange.ErrClosed].
//
// The suite's own tests run every check against adapters broken on
// purpose (fees dropped, events dropped when full, one trade ID reused for
// several fills, Close waiting for a consumer) and require each to fail,
// and against sound ones (with partial fills, rate-limit refusals, an
// honestly reported loss, no klines) and require them to pass.
//
// Client order IDs used by the suite match [A-Za-z0-9_-]{1,36}, the widest
// set every venue we know accepts.
package exchangetest
