// Package binancetest is a local Binance USDⓈ-M futures venue for tests,
// faithful to the protocol sheet (shared/protocols/binance-usdm.md) and,
// where the sheet is silent, to Binance's documentation, so that any
// correct client — ours or a third party's — can be tested against it.
//
// A test starts one on 127.0.0.1 and points the client at it:
//
//	srv := binancetest.NewServer()                 // BTCUSDT at 60000, 10000 USDT
//	defer srv.Close()
//	c, err := binance.New(binance.Config{
//		RESTURL:   srv.URL(),
//		WSURL:     srv.WSURL(),
//		APIKey:    binance.NewSecret(binancetest.APIKey),
//		APISecret: binance.NewSecret(binancetest.APISecret),
//	})
//	...
//	srv.SetPrice(ctx, "BTCUSDT", decimal.RequireFromString("59000")) // fills resting buys ≥ 59000
//
// [New] is the same with an error for bad options (a malformed seeded
// kline file, for one); [NewServer] panics on them.
//
// # REST
//
// HMAC-SHA256 signatures over query ‖ body, timestamp and recvWindow
// checks (-1021), request weights and order counts (429 with -1003 /
// -1015, X-MBX-USED-WEIGHT-1M and X-MBX-ORDER-COUNT-* headers). The
// weight is counted per minute and the order counts per 10 seconds and
// per minute, each window aligned to the server's clock as Binance's are;
// every answer that passes the weight check carries the minute's running
// weight, order answers the running order counts, and a refused request
// counts nothing. [Server.UseWeight] and [Server.UseOrders] add what
// another program on the IP or account used; [Server.Usage] and
// [Server.RateLimitRefusals] tell a test what the venue counted. Served:
// ping, time, exchangeInfo, klines, depth, ticker/bookTicker, ticker/24hr,
// ticker/price (v1, v2), premiumIndex, fundingRate; order (POST, PUT to
// modify, GET, DELETE), batchOrders (POST, DELETE), allOpenOrders,
// countdownCancelAll, openOrder, openOrders, allOrders, userTrades;
// account (v2, v3), balance (v2, v3), positionRisk (v2, v3),
// accountConfig, symbolConfig, commissionRate, income, leverage,
// leverageBracket, marginType, positionSide/dual (GET and POST),
// rateLimit/order; listenKey. Each has the weight, the
// parameters, the errors and the payload shape of the sheet's and the
// docs' examples; where they are silent the handler's comment states the
// assumption made. The order filters (-4014, -4023, -4164, -1111…),
// post-only rejection (-5022), FOK (-5021), hedge and one-way position
// modes (-4061, -1106) and margin (-2019) are checked.
//
// # The market
//
// The market is one price per symbol: the best bid is one tick below it,
// the best ask one tick above. Simulated market makers quote
// [WithDepthLevels] levels on each side (MinQty × 1000 each), and the
// account's resting limit orders join the book, so GET depth, bookTicker
// and the depth streams show them. [Server.SetPrice] moves the price,
// fills the resting orders it reaches as maker at their own price (in
// [WithFillParts] trades, so PARTIALLY_FILLED is exercised), pushes
// ORDER_TRADE_UPDATE and ACCOUNT_UPDATE, and publishes the market streams.
// An order that crosses when placed fills at once as taker (GTC, IOC,
// MARKET) or is refused (GTX -5022, FOK -5021). The mark and index prices
// are the market price.
//
// Klines exist at every documented interval, 1m to 1M: [WithKlines] or
// [WithKlineFile] seed a history (a recorded data.binance.vision CSV, say)
// so that startTime/endTime/limit queries answer real candles from the
// first call; higher intervals are aggregated from the seeded one, and
// price moves extend it.
//
// # Streams
//
// The routed paths /public, /market and /private, in raw (/ws/…) and
// combined (/stream?streams=…) modes, and the legacy unrouted /ws and
// /stream (which carry every stream here). Control messages SUBSCRIBE,
// UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY and GET_PROPERTY (combined)
// take an id that is an unsigned integer, a string of at most 36
// characters or null, echoed as sent; anything else gets the sheet's
// {"code":2,…} error. Market streams: bookTicker and !bookTicker; depth5,
// depth10, depth20 (partial, every 250 ms or @500ms/@100ms, and on each
// change) and depth (diff, with U, u and pu chained and consistent with GET
// depth's lastUpdateId); aggTrade; markPrice (every 3 s), markPrice@1s and
// !markPrice@arr[@1s]; kline_<interval>. Stream names are matched exactly,
// as the venue does: the symbol lower case, the rest as documented (an
// upper-case symbol is accepted and stays silent). The user-data stream
// takes its listen key in the path (with an optional events=A/B filter),
// as listenKey= parameters each followed by an optional events= filter,
// or by a JSON SUBSCRIBE on /private/stream
// (as the official SDK does); in combined mode its frames are
// {"stream":<listenKey>,"data":…}.
//
// # Margin, funding and liquidation
//
// Decision: the server keeps its own decimal model rather than building
// on exchange/sim's Core, because the Core is one symbol per wallet in
// integer units (one Core per account and symbol) while a Binance account
// is several symbols margined by one USDT wallet, and the server's
// matching (bid and ask a tick apart, maker fills in parts) is part of
// what the adapter's tests rely on. The margin rules follow the Core's
// (cross margin; initial margin notional / leverage for positions and
// open orders, none for reduce-only and hedge-mode closing orders; -2019
// when a new order's margin exceeds the available balance; liquidation
// when the margin balance falls below Σ |notional| × maintenance rate,
// every order canceled and every position closed as taker at the mark).
// Two differences: amounts are exact decimals (the Core rounds margins up
// to its money unit), and in one-way mode an order against the position
// reserves margin only for what exceeds the position, as Binance does.
// Added here: MARGIN_CALL when the margin ratio reaches
// [WithMarginCallRatio], and [Server.SettleFunding], which settles one
// funding and pushes ACCOUNT_UPDATE with reason FUNDING_FEE. Funding is
// never settled by the clock on its own.
//
// Faults on command: [Server.InjectFault] (any error answer, optionally
// after the request took effect, optionally delayed), [Server.SetClockOffset]
// (clock drift), [Server.ExpireListenKey], [Server.DropStreams] (sockets die
// without a close frame; queued events are lost), [Server.Stall] and
// [Server.Resume] (sockets stay open but go silent, pongs included).
//
// What it does not model: isolated margin wallets (a symbol set to
// ISOLATED is margined as cross), the PERCENT_PRICE filter, priceMatch,
// batch modification, algo orders, multi-assets mode and the WebSocket
// API. Resting orders fill whole when the price reaches them (in parts,
// but at once), so an order never stays partly filled.
package binancetest
