package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance"
	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// priceWait is how long the start waits for the first price of the stream.
const priceWait = 15 * time.Second

// venue is the adapter and, with -local, the server behind it.
type venue struct {
	c       *binance.Client
	srv     *binancetest.Server // nil unless -local
	name    string
	candles []pricefeed.Candle // -local: the recording the market replays
}

func (v *venue) close() {
	_ = v.c.Close()
	if v.srv != nil {
		v.srv.Close()
	}
}

// openVenue builds the adapter: against the local server, the testnet or
// production.
func openVenue(ctx context.Context, f flags, s setup, e env, log *slog.Logger) (*venue, error) {
	cfg := binance.Config{APIKey: s.apiKey, APISecret: s.apiSecret, Logger: log}
	v := &venue{name: "Binance USDⓈ-M (" + binance.ProductionRESTURL + ")"}
	switch {
	case f.local:
		path, err := cli.FindData(cli.DefaultData)
		if err != nil {
			return nil, err
		}
		sym := binancetest.BTCUSDT()
		v.candles, err = pricefeed.ReadCandlesFile(path, exchange.Rules{Symbol: sym.Name, TickSize: sym.TickSize,
			StepSize: sym.StepSize, MinQty: sym.MinQty, MinNotional: sym.MinNotional})
		if err != nil {
			return nil, err
		}
		if len(v.candles) == 0 {
			return nil, fmt.Errorf("%s holds no candles", path)
		}
		sym.Price = decimal.NewFromInt(int64(v.candles[0].Open)).Mul(sym.TickSize)
		opts := []binancetest.Option{binancetest.WithSymbol(sym)}
		if s.mode == grid.Neutral {
			opts = append(opts, binancetest.WithHedgeMode())
		}
		v.srv = binancetest.NewServer(opts...)
		if e.onLocal != nil {
			e.onLocal(v.srv)
		}
		cfg.RESTURL, cfg.WSURL = v.srv.URL(), v.srv.WSURL()
		cfg.APIKey, cfg.APISecret = binance.NewSecret(binancetest.APIKey), binance.NewSecret(binancetest.APISecret)
		v.name = "local binancetest server (in-process; recorded BTCUSDT prices)"
		log.Info("local venue started", "rest", cfg.RESTURL)
	case f.testnet:
		cfg.RESTURL, cfg.WSURL = binance.TestnetRESTURL, binance.TestnetWSURL
		v.name = "Binance USDⓈ-M testnet (" + binance.TestnetRESTURL + ")"
	}
	c, err := binance.New(cfg)
	if err != nil {
		if v.srv != nil {
			v.srv.Close()
		}
		return nil, err
	}
	v.c = c
	if v.srv != nil {
		// Our own local account: give it the leverage the grid plans with.
		if _, err := c.SetLeverage(ctx, f.symbol, f.lever); err != nil {
			v.close()
			return nil, fmt.Errorf("local venue: %w", err)
		}
	}
	return v, nil
}

// market drives the local venue: it publishes the recording's first price
// once the price stream has a subscriber; with -live it then replays the
// candles (or runs env.market) once the runner has started.
func (v *venue) market(ctx context.Context, f flags, e env, rules exchange.Rules, started <-chan struct{},
	ended chan<- struct{}, stdout io.Writer, log *slog.Logger) error {
	if err := v.srv.WaitConns(ctx, "public", 1); err != nil {
		return err
	}
	if err := v.srv.SetPrice(ctx, f.symbol, rules.TicksToPrice(v.candles[0].Open)); err != nil {
		return err
	}
	if !f.live {
		return nil
	}
	select {
	case <-started:
	case <-ctx.Done():
		return nil
	}
	if e.market != nil {
		return e.market(ctx, v.srv)
	}
	replay, err := pricefeed.NewCandleReplay(v.candles, pricefeed.WithSpeed(f.speed))
	if err != nil {
		return err
	}
	log.Info("local market replaying", "candles", len(v.candles), "speed", f.speed)
	for {
		p, err := replay.Next(ctx)
		switch {
		case errors.Is(err, io.EOF):
			close(ended)
			fmt.Fprintln(stdout, "— the recording ended; the local market stays at its last price")
			return nil
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := v.srv.SetPrice(ctx, f.symbol, rules.TicksToPrice(p.Ticks)); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// firstPrice waits for the first price of the monitor.
func firstPrice(ctx context.Context, mon *pricefeed.Feed, rules exchange.Rules) (exchange.Ticks, error) {
	wait, cancel := context.WithTimeout(ctx, priceWait)
	defer cancel()
	p, ok := <-mon.Subscribe(wait) // the channel closes when wait ends
	if !ok {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("no %s price from the market stream within %s", rules.Symbol, priceWait)
	}
	return p.Ticks, nil
}

// readAccount reads the account and the symbol's positions when the
// adapter has keys (signed); without keys it reads nothing.
func readAccount(ctx context.Context, v *venue, symbol string, signed bool) (exchange.Account, []exchange.Position, error) {
	if !signed {
		return exchange.Account{}, nil, nil
	}
	acct, err := v.c.Account(ctx)
	if err != nil {
		return acct, nil, fmt.Errorf("account: %w", err)
	}
	pos, err := v.c.Positions(ctx, symbol)
	if err != nil {
		return acct, nil, fmt.Errorf("positions of %s: %w", symbol, err)
	}
	return acct, pos, nil
}

// venueView reads the venue's view of the grid after the run.
func venueView(v *venue, gridID string, rules exchange.Rules, sum *Summary) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	orders, err := v.c.OpenOrders(ctx, rules.Symbol)
	if err != nil {
		return fmt.Errorf("open orders after the run: %w", err)
	}
	for _, o := range orders {
		if id, _, err := grid.ParseClientOrderID(o.ClientOrderID); err == nil && id == gridID {
			sum.VenueOrders = append(sum.VenueOrders, o)
		}
	}
	positions, err := v.c.Positions(ctx, rules.Symbol)
	if err != nil {
		return fmt.Errorf("positions after the run: %w", err)
	}
	sum.VenuePos = decimal.Zero
	for _, p := range positions {
		if p.Symbol == rules.Symbol {
			sum.VenuePos = sum.VenuePos.Add(p.Quantity)
		}
	}
	return nil
}
