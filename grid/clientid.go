package grid

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Client order IDs: "gm" + grid ID + "_" + level + "_" + generation, with
// the level and generation in lower-case base 36, a negative level's sign
// written "-" ("gmbtc1_-1a_2f"), and an upper-case "I" in place of the
// level for the initial position order ("gmbtc1_I_1") and "C" for the
// orders that close the position at a hard stop, which no base-36 level
// can spell. Every character is a letter, a
// digit or "_", and the whole is at most 28 characters: the intersection of
// what Binance (36 of [.A-Z:/a-z0-9_-]), Bitget (under 50 of
// [0-9A-Za-z-+_#]) and Gate (28 after its own "t-" prefix) accept.
const (
	clientIDPrefix = "gm"
	// MaxClientOrderIDLen is the longest client order ID the grid makes.
	MaxClientOrderIDLen = 28
	// MaxGridIDLen is the longest grid ID: it leaves room for the widest
	// level (7 base-36 digits and a sign) and generation (7 digits).
	MaxGridIDLen = MaxClientOrderIDLen - len(clientIDPrefix) - 2 - 8 - 7
)

// ErrNotOurs is returned by [ParseClientOrderID] for an ID the grid did not make.
var ErrNotOurs = errors.New("client order id is not the grid's")

// ValidGridID reports whether id can prefix the grid's client order IDs:
// 1 to MaxGridIDLen letters or digits (no "_", which separates the fields).
func ValidGridID(id string) error {
	if id == "" || len(id) > MaxGridIDLen {
		return fmt.Errorf("grid ID %q must be 1 to %d characters", id, MaxGridIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("grid ID %q: character %q is not a letter or digit", id, c)
		}
	}
	return nil
}

// ClientOrderID returns the client order ID of ref in grid gridID.
func ClientOrderID(gridID string, ref OrderRef) string {
	var b strings.Builder
	b.Grow(MaxClientOrderIDLen)
	b.WriteString(clientIDPrefix)
	b.WriteString(gridID)
	b.WriteByte('_')
	switch {
	case ref.Level == InitialLevel:
		b.WriteByte('I')
	case ref.Level == CloseLevel:
		b.WriteByte('C')
	case ref.Level < 0:
		b.WriteByte('-')
		b.WriteString(strconv.FormatUint(uint64(-ref.Level), 36))
	default:
		b.WriteString(strconv.FormatUint(uint64(ref.Level), 36))
	}
	b.WriteByte('_')
	b.WriteString(strconv.FormatUint(uint64(ref.Gen), 36))
	return b.String()
}

// ParseClientOrderID splits a client order ID made by [ClientOrderID] back
// into its grid ID and reference. Any other ID gives an error matching
// [ErrNotOurs].
func ParseClientOrderID(id string) (gridID string, ref OrderRef, err error) {
	notOurs := func(why string) error { return fmt.Errorf("%w: %q: %s", ErrNotOurs, id, why) }
	if len(id) > MaxClientOrderIDLen || !strings.HasPrefix(id, clientIDPrefix) {
		return "", OrderRef{}, notOurs("no grid prefix")
	}
	parts := strings.Split(id[len(clientIDPrefix):], "_")
	if len(parts) != 3 {
		return "", OrderRef{}, notOurs("want 3 fields")
	}
	if err := ValidGridID(parts[0]); err != nil {
		return "", OrderRef{}, notOurs(err.Error())
	}
	gen, err := parseBase36(parts[2], 32)
	if err != nil {
		return "", OrderRef{}, notOurs("generation: " + err.Error())
	}
	ref.Gen = uint32(gen)
	switch lv := parts[1]; {
	case lv == "I":
		ref.Level = InitialLevel
	case lv == "C":
		ref.Level = CloseLevel
	case strings.HasPrefix(lv, "-"):
		v, err := parseBase36(lv[1:], 31)
		if err != nil || v == 0 || -int64(v) == CloseLevel {
			return "", OrderRef{}, notOurs("level") // CloseLevel is spelt "C"
		}
		ref.Level = -int64(v)
	default:
		v, err := parseBase36(lv, 31)
		if err != nil {
			return "", OrderRef{}, notOurs("level")
		}
		ref.Level = int64(v)
	}
	return parts[0], ref, nil
}

// parseBase36 accepts only the canonical lower-case form, so that every ID
// has one parse and one spelling.
func parseBase36(s string, bitSize int) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("not canonical")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return 0, errors.New("not base 36")
		}
	}
	return strconv.ParseUint(s, 36, bitSize)
}
