// Package binance is gridmesh's adapter for Binance USDⓈ-M perpetual
// futures: signed REST (HMAC-SHA256), the market streams on the 2026 routed
// WebSocket paths (/public, /market) and the user-data stream on /private,
// with listen-key keepalive, reconnection with backoff and jitter, the 24 h
// connection rollover, rate-limit tracking and the mapping of every Binance
// error code to the typed errors of package exchange.
//
// A host builds one [Client] and hands it to the grid's runner, which opens
// the user-data stream before placing anything:
//
//	c, err := binance.New(binance.Config{
//		APIKey:    binance.NewSecret(os.Getenv("BINANCE_API_KEY")),
//		APISecret: binance.NewSecret(os.Getenv("BINANCE_API_SECRET")),
//		Logger:    logger,
//	})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	events, err := c.SubscribeUserData(ctx) // first event: EventReady
//	...
//	for ev := range events {
//		switch ev.Kind {
//		case exchange.EventReady:
//			if ev.Reconnected {
//				// events may have been missed: reconcile over REST
//			}
//		case exchange.EventOrder:
//			// ev.Order: NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED
//		}
//	}
//
// Set Config.RESTURL and Config.WSURL to [TestnetRESTURL] and [TestnetWSURL]
// for the testnet, or to a binancetest.Server for tests: the package
// binancetest is a local server that speaks the same protocol.
//
// Numbers cross the wire as strings and are parsed into decimals, never
// float64. Unknown fields and event types are ignored; a malformed stream
// message is counted ([Client.MalformedMessages]) and skipped.
//
// Binance refuses a crossing post-only (GTX) order synchronously with
// -5022, which PlaceOrder returns as exchange.ErrPostOnlyRejected; nothing
// is created and no stream event follows. A request whose outcome is
// unknown (HTTP 5xx, -1006, -1007, a timeout after sending) is an
// *exchange.UnknownOutcomeError: query the client order ID before sending
// it again.
//
// Every REST request is charged at its own weight (sheet §3.4: klines by
// their limit, Fills per 7-day userTrades window and per order it looks
// up), see [Client.Charges]. The adapter declares the venue's windows to
// an executor in its full form ([Client.LimitWindows]: ORDERS_10S,
// ORDERS_1M, REQUEST_WEIGHT_1M, each operation at the sheet's weight; a
// host sending Klines through the executor names it [KlinesOp](limit)),
// and reports every answer's usage headers (X-MBX-USED-WEIGHT-1M,
// X-MBX-ORDER-COUNT-10S and -1M, errors and 429s included) to the
// executor that sent the call, through exchange.ReportUsage: the executor
// then holds back what the venue would refuse — also when another
// program, or this one before a restart, used the budget — and a 429 or
// 418 pauses it for Retry-After (seconds or an HTTP date), the ban's end,
// or the window's end. Give the executor the adapter's clock
// (Config.Clock, exchange.WithExecutorClock): the windows' ends are
// reported on it. The last counts are in [Client.Usage]. MARKET orders are checked against MARKET_LOT_SIZE, whose
// maximum Rules carries as MarketMaxQty: split a larger close with
// exchange.Rules.SplitMarketQty.
//
// No error or log line shows a request's query or body, its signature,
// the API key, the secret or a listen key: a transport error keeps the
// method and the path, and a stream URL shows its listen key as
// [REDACTED], in the path or in a listenKey= parameter.
package binance
