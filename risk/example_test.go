package risk_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/risk"
	"github.com/shopspring/decimal"
)

// A long grid from 96 to 104 started at 100, 5x cross, with two levels
// bought at the start: the account's 100 USDT do not cover the worst case
// with the default 1.2 safety factor, and a host's own check refuses a
// symbol it does not trade.
func ExampleRunChecks() {
	d := decimal.RequireFromString
	level := func(price, exit string, initial bool) risk.PlanLevel {
		return risk.PlanLevel{Price: d(price), Qty: d("1"), EntrySide: exchange.Buy, ExitPrice: d(exit), Initial: initial}
	}
	rules := exchange.Rules{Symbol: "NEARUSDT", TickSize: d("0.001"), StepSize: d("1"), MinQty: d("1"), MinNotional: d("5")}
	plan := risk.Plan{
		Symbol: "NEARUSDT", Rules: rules, Direction: risk.Long,
		StartPrice: d("100"), Lower: d("96"), Upper: d("104"),
		Levels:   []risk.PlanLevel{level("96", "98", false), level("98", "100", false), level("100", "102", true), level("102", "104", true)},
		Leverage: 5, MarginMode: exchange.Cross, PositionMode: exchange.OneWay,
		MakerFee: d("0.0002"), TakerFee: d("0.0005"), MaintenanceRate: d("0.005"),
	}
	in := risk.CheckInput{
		Plan:      plan,
		Account:   exchange.Account{AvailableBalance: d("100"), CanTrade: true},
		Positions: []exchange.Position{{Symbol: "NEARUSDT", Leverage: 5}},
		Rules:     rules,
	}
	noNear := risk.CheckFunc{Label: "symbols", Fn: func(in risk.CheckInput) error {
		if in.Plan.Symbol == "NEARUSDT" {
			return errors.New("NEARUSDT is not on the host's list")
		}
		return nil
	}}

	err := risk.RunChecks(in, append(risk.DefaultChecks(), noNear)...)
	var ce *risk.CheckError
	if errors.As(err, &ce) {
		fmt.Println(ce.Check, "short by", ce.Short)
	}
	fmt.Println(err)
	// Output:
	// margin short by 6.72656
	// risk check margin: worst case: price falls to 96 with 4 levels filled (long 4 at average entry 98.5): margin 78.8 + fees 0.1388 + loss 10 = 88.9388, × safety factor 1.2 = 106.72656 needed, 100 available; short by 6.72656: add balance, lower the order size or narrow the range
	// risk check symbols: NEARUSDT is not on the host's list
}

// A guard over a circuit breaker and a host's own time-of-day monitor: the
// grid pauses on a 6 % drop and at midnight, and resumes ten minutes
// after the monitors clear.
func ExampleGuard() {
	band, err := risk.NewPriceBand(risk.DefaultPriceBandConfig("NEARUSDT"))
	if err != nil {
		panic(err)
	}
	// No new entries during the daily settlement minute.
	settlement := risk.MonitorFunc{Label: "settlement", Fn: func(o risk.Observation) risk.Status {
		if o.Time.Hour() == 0 && o.Time.Minute() == 0 {
			return risk.Status{Triggered: true, Reason: "daily settlement"}
		}
		return risk.Status{Reason: "outside settlement"}
	}}
	guard := risk.NewGuard(10*time.Minute, band, settlement)

	start := time.Date(2025, 2, 3, 1, 0, 0, 0, time.UTC)
	observe := func(min int, kind risk.ObservationKind, price string) {
		o := risk.Observation{Time: start.Add(time.Duration(min) * time.Minute), Kind: kind, Symbol: "NEARUSDT"}
		if price != "" {
			o.Price = decimal.RequireFromString(price)
		}
		for _, t := range guard.Observe(o) {
			fmt.Printf("%s %s triggered=%v: %s\n", t.Time.Format("15:04"), t.Monitor, t.Triggered, t.Reason)
		}
	}
	observe(0, risk.KindPrice, "3.50")
	observe(5, risk.KindPrice, "3.29") // −6 %
	observe(10, risk.KindPrice, "3.30")
	observe(21, risk.KindTimer, "") // the 3.50 has left the 15-minute window
	observe(30, risk.KindTimer, "")
	observe(31, risk.KindTimer, "")
	observe(23*60, risk.KindTimer, "") // midnight
	observe(23*60+1, risk.KindPrice, "3.30")
	observe(23*60+11, risk.KindTimer, "")
	fmt.Println("paused:", guard.Paused())
	// Output:
	// 01:05 price-band triggered=true: NEARUSDT fell 6.00% within 15m0s at 2025-02-03T01:05:00Z: from 3.5 to 3.29 (limit 5.00%)
	// 01:05 guard triggered=true: entries paused: price-band: NEARUSDT fell 6.00% within 15m0s at 2025-02-03T01:05:00Z: from 3.5 to 3.29 (limit 5.00%)
	// 01:21 price-band triggered=false: NEARUSDT moved at most 0.00% within 15m0s at 2025-02-03T01:21:00Z (high 3.3, low 3.3, last 3.3; clear level 2.50%)
	// 01:31 guard triggered=false: entries resumed: every monitor clear since 2025-02-03T01:21:00Z, cool-down 10m0s over
	// 00:00 settlement triggered=true: daily settlement
	// 00:00 guard triggered=true: entries paused: settlement: daily settlement
	// 00:01 settlement triggered=false: outside settlement
	// 00:11 guard triggered=false: entries resumed: every monitor clear since 2025-02-04T00:01:00Z, cool-down 10m0s over
	// paused: false
}
