// Package pricefeed is gridmesh's single source of prices: recorded-data
// readers for backtests and the live price [Feed] for everything else.
//
// A live host runs one Feed per symbol, feeds it from the venue and
// hands subscriptions to whoever needs prices (the grid runner, risk
// monitors, a dashboard):
//
//	mon, err := pricefeed.NewFeed("BTCUSDT", pricefeed.WithLogger(log))
//	if err != nil { … }
//	defer mon.Close()
//	src, err := pricefeed.NewExchangeSource(ex, "BTCUSDT", rules)
//	if err != nil { … }
//	go func() { errc <- mon.Run(ctx, src) }() // the host owns this goroutine
//	for p := range mon.Subscribe(ctx) {
//		engine.OnPrice(p.Ticks, p.Time) // coalesced; the newest price always wins
//	}
//
// A subscription carries price changes only. The source's liveness — a
// message arrived, an unchanged price included — is read apart, lock-free,
// on the host's own timer, so a flat market does not look like a dead feed:
//
//	l := mon.Liveness() // newest message's price and time, message count
//	guard.Observe(risk.Observation{Time: now, Kind: risk.KindAlive, Symbol: "BTCUSDT",
//		Price: rules.TicksToPrice(l.Price.Ticks), Heard: l.Price.Time})
//
// A backtest does not go through the Feed: it decodes a recorded file
// once and calls the engine and the simulator tick by tick:
//
//	candles, err := pricefeed.ReadCandlesFile("examples/data/binance-um_BTCUSDT_1m_2025-05-04_2025-06-03.csv.gz", rules)
//	for _, c := range candles {
//		for _, px := range c.Path() { … }
//	}
//
// The readers ([ReadCandles], [ReadTrades], [ReadBookTicks]) parse CSV
// fields straight into [exchange.Ticks] and [exchange.Steps] with the
// symbol's [exchange.Rules], with no decimal and no allocation per row, and
// report a bad row as a [*CSVError] naming the line, the column and the
// text. They read the Binance public-data (data.binance.vision) kline,
// aggTrades and trades dumps, freqtrade's OHLCV export, raw Binance
// WebSocket captures flattened to CSV (trades and bookTicker) and Kraken
// trades; plain or gzip-compressed.
//
// Paper trading replays a recording through the Feed with [Replay]
// (trades, or candles as their four-price paths) at a chosen speed.
//
// This package imports only the exchange package of gridmesh.
package pricefeed
