// Package exchangetest is the conformance suite every [exchange.IExchange]
// adapter passes, in the spirit of testing/fstest.TestFS.
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
// the fill checks are skipped.
//
// # What it checks
//
//   - Rules are valid and name the symbol.
//   - Place, query by client order ID, list open orders and cancel (by order
//     ID and by client order ID) round-trip, echoing the client order ID,
//     side, price and quantity; canceling or querying an unknown order is
//     [exchange.ErrOrderNotFound].
//   - A post-only order that would cross is refused. Venues differ: Binance
//     refuses synchronously ([exchange.ErrPostOnlyRejected], -5022), others
//     accept the order and then expire or cancel it on the order stream.
//     The suite accepts both, because the engine treats them as one event:
//     the slot's entry was rejected and the level is free again. An
//     adapter must produce one of the two, never a resting order.
//   - Prices off the tick and quantities off the step are errors matching
//     [exchange.ErrInvalidOrder], whether the adapter's validation or the
//     venue caught them.
//   - The user-data stream opens with [exchange.EventReady] (not
//     Reconnected) and then delivers, per order and in order, NEW →
//     (PARTIALLY_FILLED →) FILLED or NEW → CANCELED, with the cumulative
//     FilledQty never decreasing and the last-fill quantities adding up to
//     it; a filled order's QueryOrder, Fills since a time and Positions
//     agree with the stream; a reduce-only (one-way) or position-side
//     (hedge) exit closes what the entry opened.
//   - Streams close their channel when their context ends, and Close stops
//     every goroutine the adapter started: the goroutine count returns to
//     what it was before the adapter's streams were opened (checked with
//     the standard library, within a bounded wait; the goroutine profile is
//     printed when it fails). Calls after Close fail with [exchange.ErrClosed].
//
// Client order IDs used by the suite match [A-Za-z0-9_-]{1,36}, the widest
// set every venue we know accepts.
package exchangetest
