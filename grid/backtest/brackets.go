package backtest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
)

// ErrBracketData is matched by every error of [ReadBrackets].
var ErrBracketData = errors.New("backtest: bracket data")

type bracketJSON struct {
	Bracket          int         `json:"bracket"`
	NotionalCap      json.Number `json:"notionalCap"`
	NotionalFloor    json.Number `json:"notionalFloor"`
	MaintMarginRatio json.Number `json:"maintMarginRatio"`
	Cum              json.Number `json:"cum"`
}

type symbolBrackets struct {
	Symbol   string        `json:"symbol"`
	Brackets []bracketJSON `json:"brackets"`
}

// ReadBracketsFile is [ReadBrackets] on a file.
func ReadBracketsFile(path string, rules exchange.Rules) ([]sim.Bracket, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("backtest: brackets: %w", err)
	}
	defer f.Close()
	bs, err := ReadBrackets(f, rules)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return bs, nil
}

// ReadBrackets reads the maintenance-margin brackets of rules.Symbol from
// the response of Binance's GET /fapi/v1/leverageBracket: an array of
// {"symbol", "brackets": [...]} (the symbol's entry is used), or one such
// object. Each bracket's notionalCap, maintMarginRatio and cum become a
// [sim.Bracket] (the last tier uncapped); tiers must be in order, each
// floor the previous cap. The simulator checks that the amounts (cum) are
// continuous when the backtest starts.
func ReadBrackets(r io.Reader, rules exchange.Rules) ([]sim.Bracket, error) {
	br := bufio.NewReader(r)
	var all []symbolBrackets
	first, err := peekNonSpace(br)
	if err != nil {
		return nil, fmt.Errorf("%w: empty", ErrBracketData)
	}
	dec := json.NewDecoder(br)
	dec.UseNumber()
	if first == '{' {
		var one symbolBrackets
		err = dec.Decode(&one)
		all = []symbolBrackets{one}
	} else {
		err = dec.Decode(&all)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBracketData, err)
	}
	var sb *symbolBrackets
	for i := range all {
		if all[i].Symbol == rules.Symbol || (len(all) == 1 && all[i].Symbol == "") {
			sb = &all[i]
		}
	}
	if sb == nil {
		return nil, fmt.Errorf("%w: no brackets for %s", ErrBracketData, rules.Symbol)
	}
	if len(sb.Brackets) == 0 {
		return nil, fmt.Errorf("%w: %s has no brackets", ErrBracketData, rules.Symbol)
	}
	num := func(i int, field string, n json.Number) (decimal.Decimal, error) {
		d, err := decimal.NewFromString(n.String())
		if err != nil || d.IsNegative() {
			return d, fmt.Errorf("%w: bracket %d: %s %q is not a non-negative number", ErrBracketData, i+1, field, n)
		}
		return d, nil
	}
	out := make([]sim.Bracket, len(sb.Brackets))
	prevCap, prevRatio, prevCum := decimal.Zero, decimal.Zero, decimal.Zero
	for i, b := range sb.Brackets {
		capD, err := num(i, "notionalCap", b.NotionalCap)
		if err != nil {
			return nil, err
		}
		floor, err := num(i, "notionalFloor", b.NotionalFloor)
		if err != nil {
			return nil, err
		}
		ratio, err := num(i, "maintMarginRatio", b.MaintMarginRatio)
		if err != nil {
			return nil, err
		}
		cum, err := num(i, "cum", b.Cum)
		if err != nil {
			return nil, err
		}
		if !floor.Equal(prevCap) {
			return nil, fmt.Errorf("%w: bracket %d: notionalFloor %s is not the previous cap %s", ErrBracketData, i+1, floor, prevCap)
		}
		if !capD.GreaterThan(floor) {
			return nil, fmt.Errorf("%w: bracket %d: notionalCap %s is not above its floor %s", ErrBracketData, i+1, capD, floor)
		}
		if i > 0 {
			if ratio.LessThan(prevRatio) {
				return nil, fmt.Errorf("%w: bracket %d: maintMarginRatio %s is below the previous tier's %s", ErrBracketData, i+1, ratio, prevRatio)
			}
			want := prevCum.Add(floor.Mul(ratio.Sub(prevRatio)))
			if cum.Sub(want).Abs().GreaterThan(rules.MoneyUnit()) {
				return nil, fmt.Errorf("%w: bracket %d: cum %s is not %s + %s × (%s − %s) = %s: the maintenance margin would jump between tiers",
					ErrBracketData, i+1, cum, prevCum, floor, ratio, prevRatio, want)
			}
		}
		prevCap, prevRatio, prevCum = capD, ratio, cum
		rate, err := exchange.RateFromDecimal(ratio)
		if err != nil || ratio.GreaterThanOrEqual(decimal.NewFromInt(1)) {
			return nil, fmt.Errorf("%w: bracket %d: maintMarginRatio %s is not a fraction below 1 with at most 8 decimals", ErrBracketData, i+1, ratio)
		}
		amount, err := rules.DecimalToMoney(cum)
		if err != nil {
			return nil, fmt.Errorf("%w: bracket %d: cum %s: %w", ErrBracketData, i+1, cum, err)
		}
		out[i] = sim.Bracket{Rate: rate, Amount: amount}
		if i < len(sb.Brackets)-1 {
			if out[i].NotionalCap, err = rules.DecimalToMoney(capD); err != nil {
				return nil, fmt.Errorf("%w: bracket %d: notionalCap %s: %w", ErrBracketData, i+1, capD, err)
			}
		}
	}
	return out, nil
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte()
			continue
		}
		return b[0], nil
	}
}
