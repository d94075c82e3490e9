// Package binancetest is a local Binance USDⓈ-M futures venue for tests,
// faithful to the protocol sheet (shared/protocols/binance-usdm.md): the
// REST endpoints the adapter uses, HMAC-SHA256 signatures over query ‖ body,
// timestamp and recvWindow checks (-1021), request weights and order counts
// (429 with -1003 / -1015), the order filters (-4014, -4023, -4164, -1111…),
// post-only rejection (-5022), hedge and one-way position modes (-4061,
// -1106), listen keys, and the routed WebSocket paths /public, /market and
// /private in raw (/ws/…) and combined (/stream?streams=…) modes. Its
// payloads have the field sets of the sheet's real examples.
//
// A test starts one on 127.0.0.1 and points the adapter at it:
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
// The market is one price per symbol: the best bid is one tick below it,
// the best ask one tick above. [Server.SetPrice] moves it, fills the
// resting orders it reaches as maker at their own price (in
// [WithFillParts] trades, so PARTIALLY_FILLED is exercised), pushes
// ORDER_TRADE_UPDATE and ACCOUNT_UPDATE on the user stream, and publishes
// bookTicker, aggTrade, markPrice and kline updates. An order that crosses
// when placed fills at once as taker (GTC, IOC, MARKET) or is refused
// (GTX -5022, FOK -5021).
//
// Faults on command: [Server.InjectFault] (any error answer, optionally
// after the request took effect, optionally delayed), [Server.SetClockOffset]
// (clock drift), [Server.ExpireListenKey], [Server.DropStreams] (sockets die
// without a close frame; queued events are lost), [Server.Stall] and
// [Server.Resume] (sockets stay open but go silent, pongs included).
//
// What it does not model: margin and liquidation, funding, the PERCENT_PRICE
// filter, order amendment, algo orders and the WebSocket API.
package binancetest
