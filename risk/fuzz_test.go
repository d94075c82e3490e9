package risk

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// fuzzBytes hands out values from fuzz input; zeros once it runs dry.
type fuzzBytes []byte

func (b *fuzzBytes) u8() uint8 {
	if len(*b) == 0 {
		return 0
	}
	v := (*b)[0]
	*b = (*b)[1:]
	return v
}

func (b *fuzzBytes) i16() int64 {
	if len(*b) < 2 {
		*b = nil
		return 0
	}
	v := int16(binary.LittleEndian.Uint16(*b))
	*b = (*b)[2:]
	return int64(v)
}

// dec is a small decimal: a signed 16-bit mantissa and an exponent in [-6, 1].
func (b *fuzzBytes) dec() decimal.Decimal {
	m := b.i16()
	return decimal.New(m, int32(b.u8()%8)-6)
}

// FuzzChecks builds arbitrary plans and accounts (any signs, zeros, sides,
// modes) and runs every built-in check: none may panic, and every failure
// must be a *CheckError.
func FuzzChecks(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x10\x27\x04\x00\x00\x06\x03\x05\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"))
	f.Add([]byte("\xff\xff\x06\x01\x00\x80\x05\x02\x01\x01\x00\x10\x27\x06\xe8\x03\x06\x64\x00\x06\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := fuzzBytes(data)
		p := Plan{
			Symbol: "X", Rules: exchange.Rules{Symbol: "X", TickSize: b.dec(), StepSize: b.dec(), MinQty: b.dec(), MinNotional: b.dec()},
			Direction: Direction(b.u8() % 5), StartPrice: b.dec(), Lower: b.dec(), Upper: b.dec(),
			Trailing: b.u8()%2 == 1, LayerCap: int(b.u8()%8) - 1, Leverage: int(b.u8()%130) - 2,
			MarginMode: exchange.MarginMode(b.u8() % 3), PositionMode: exchange.PositionMode(b.u8() % 3),
			MakerFee: b.dec(), TakerFee: b.dec(), MaintenanceRate: b.dec(),
		}
		for n := int(b.u8() % 8); n > 0; n-- {
			p.Levels = append(p.Levels, PlanLevel{Price: b.dec(), Qty: b.dec(), EntrySide: exchange.Side(b.u8() % 3),
				ExitPrice: b.dec(), Initial: b.u8()%2 == 1})
		}
		in := CheckInput{Plan: p, Rules: p.Rules,
			Account: exchange.Account{AvailableBalance: b.dec(), CanTrade: b.u8()%2 == 1, MultiAssets: b.u8()%2 == 1,
				PositionMode: exchange.PositionMode(b.u8() % 2)},
			Positions: []exchange.Position{{Symbol: "X", Quantity: b.dec(), EntryPrice: b.dec(), Leverage: int(b.u8()), MarginMode: exchange.MarginMode(b.u8() % 2)}},
		}
		checks := DefaultChecks()
		for _, c := range checks {
			if err := c.Check(in); err != nil && !errors.Is(err, ErrCheckFailed) {
				t.Fatalf("%s: %v is not a CheckError", c.Name(), err)
			}
		}
		if err := RunChecks(in, checks...); err != nil && !errors.Is(err, ErrCheckFailed) {
			t.Fatalf("RunChecks: %v", err)
		}
	})
}

// FuzzGuard feeds arbitrary observation sequences to a guard over every
// built-in monitor: nothing may panic, and the guard must be paused
// whenever a monitor is triggered.
func FuzzGuard(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01\x10\x00\x27\x00\x01\x05\x10\x00\x20\x00\x02\x30\x10\x27\x00\x10\x27\x00\x04\x03\x00\x05\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) { guardFuzzBody(t, data) })
}

func guardFuzzBody(t *testing.T, data []byte) {
	{
		b := fuzzBytes(data)
		band, _ := NewPriceBand(PriceBandConfig{Name: "band", Symbol: "X", Interval: "1m", Window: time.Minute, MaxMove: decimal.New(5, -2), ClearMove: decimal.New(2, -2)})
		exposure, _ := NewExposure(ExposureConfig{Name: "exposure", Symbol: "X", MaxQty: decimal.NewFromInt(10), MaxNotional: decimal.NewFromInt(1000), ClearRatio: decimal.New(9, -1)})
		dd, _ := NewDrawdown(DefaultDrawdownConfig())
		gdd, _ := NewDrawdown(DefaultGridDrawdownConfig(decimal.NewFromInt(1000)))
		stale, _ := NewStaleFeed(StaleFeedConfig{Name: "stale", Symbol: "X", MaxAge: 10 * time.Second, ClearPrices: 2})
		liq, _ := NewLiquidationDistance(DefaultLiquidationDistanceConfig("X"))
		vcfg := DefaultVolumeSpikeConfig(Direction(1+b.u8()%3), "X", "Y")
		vcfg.Window, vcfg.ClearQuorum = 2, 1
		spike, _ := NewVolumeSpike(vcfg)
		monitors := []Monitor{band, exposure, dd, gdd, stale, liq, spike}
		g := NewGuard(time.Duration(b.u8())*time.Second, monitors...)
		now := time.Unix(0, 0)
		for len(b) > 0 {
			now = now.Add(time.Duration(b.u8()) * time.Second) // may stand still
			sym := "X"
			if b.u8()%4 == 0 {
				sym = "Y"
			}
			o := Observation{Time: now, Kind: ObservationKind(b.u8() % 10), Symbol: sym}
			switch o.Kind {
			case KindPrice:
				o.Price = b.dec()
			case KindKline:
				open := now.Add(-time.Duration(b.u8()%3) * time.Minute).Truncate(time.Minute)
				o.Kline = exchange.Kline{Symbol: sym, Interval: "1m", OpenTime: open, Open: b.dec(), High: b.dec(), Low: b.dec(),
					Close: b.dec(), Volume: b.dec(), Closed: b.u8()%2 == 0}
			case KindAccount:
				o.Account = exchange.Account{TotalMargin: b.dec(), TotalWallet: b.dec()}
				o.Positions = []exchange.Position{{Symbol: sym, PositionSide: exchange.PositionSide(b.u8() % 4), Quantity: b.dec(), LiquidationPrice: b.dec()}}
			case KindMark:
				o.Mark = exchange.MarkPriceUpdate{Symbol: sym, MarkPrice: b.dec()}
			case KindAlive:
				o.Price, o.Heard = b.dec(), now.Add(-time.Duration(b.u8())*time.Second)
			case KindBooks:
				o.Books = Books{Realized: b.dec(), Unrealized: b.dec(), Fees: b.dec(), Funding: b.dec()}
			}
			g.Observe(o)
			if len(g.Reasons()) > 0 && !g.Paused() {
				t.Fatalf("a monitor is triggered but the guard is not paused: %v", g.Reasons())
			}
		}
	}
}
