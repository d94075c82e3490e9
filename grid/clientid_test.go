package grid

import (
	"errors"
	"math"
	"math/rand/v2"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var venueSafe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,28}$`)

func TestClientOrderIDRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		grid string
		ref  OrderRef
		want string
	}{
		{"btc1", OrderRef{Level: 0, Gen: 1}, "gmbtc1_0_1"},
		{"btc1", OrderRef{Level: 37, Gen: 36}, "gmbtc1_11_10"},
		{"btc1", OrderRef{Level: -37, Gen: 2}, "gmbtc1_-11_2"},
		{"btc1", OrderRef{Level: InitialLevel, Gen: 1}, "gmbtc1_I_1"},
		{"btc1", OrderRef{Level: CloseLevel, Gen: 2}, "gmbtc1_C_2"},
		{"btc1", OrderRef{Level: 18, Gen: 1}, "gmbtc1_i_1"},
		{"btc1", OrderRef{Level: 23, Gen: 1}, "gmbtc1_n_1"},
		{"ABCDEFGH9", OrderRef{Level: math.MaxInt32, Gen: math.MaxUint32}, "gmABCDEFGH9_zik0zj_1z141z3"},
		{"ABCDEFGH9", OrderRef{Level: -math.MaxInt32 + 1, Gen: math.MaxUint32}, "gmABCDEFGH9_-zik0zi_1z141z3"},
	} {
		id := ClientOrderID(tc.grid, tc.ref)
		assert.Equal(t, tc.want, id)
		assert.Regexp(t, venueSafe, id)
		g, ref, err := ParseClientOrderID(id)
		require.NoError(t, err)
		assert.Equal(t, tc.grid, g)
		assert.Equal(t, tc.ref, ref)
	}
}

func TestParseClientOrderIDRejectsOthers(t *testing.T) {
	for _, id := range []string{
		"", "web_123", "gm", "gmbtc_1", "gmbtc_1_2_3", "gmbtc_01_2", "gmbtc_1_02", "gmbtc_N1_2", "gmbtc_-_2",
		"gmbtc_-0_1", "gmbtc_-zik0zj_1", "gmbtc_i_01", "gmbtc_Ix_1", "gm_1_2", "gmbtc_1_", "gmbtc-x_1_2", "autoclose-123", "gmbtc_zzzzzzzz_1",
		"gmABCDEFGHIJ_1_1",
	} {
		_, _, err := ParseClientOrderID(id)
		assert.True(t, errors.Is(err, ErrNotOurs), "%q: %v", id, err)
	}
}

// TestClientOrderIDIsUnambiguous formats random references and parses them
// back: every level, negative or not, and the initial order keep their identity.
func TestClientOrderIDIsUnambiguous(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]OrderRef{}
	for range 100_000 {
		ref := OrderRef{Level: int64(rng.Int32N(1<<30)) - int64(rng.Int32N(1<<30)), Gen: rng.Uint32()}
		switch rng.IntN(5) {
		case 0:
			ref.Level = int64(rng.IntN(2000)) - 1000
		case 1:
			ref.Level = InitialLevel
		case 2:
			ref.Level = CloseLevel
		}
		id := ClientOrderID("g1", ref)
		require.Regexp(t, venueSafe, id)
		g, back, err := ParseClientOrderID(id)
		require.NoError(t, err, id)
		require.Equal(t, "g1", g)
		require.Equal(t, ref, back, id)
		if prev, ok := seen[id]; ok {
			require.Equal(t, prev, ref, "two references, one ID")
		}
		seen[id] = ref
	}
}

func TestRefTag(t *testing.T) {
	for _, r := range []OrderRef{{0, 0}, {5, 7}, {-5, 7}, {InitialLevel, 3}, {math.MaxInt32, math.MaxUint32}} {
		assert.Equal(t, r, RefFromTag(r.Tag()))
	}
}

// FuzzParseClientOrderID: any ID the parser accepts is venue-safe and
// formats back to itself, so one order has one spelling.
func FuzzParseClientOrderID(f *testing.F) {
	for _, s := range []string{"gmbtc1_0_1", "gmbtc1_-11_2", "gmbtc1_I_1", "gmbtc1_n_1", "x", "gm_1_1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		g, ref, err := ParseClientOrderID(id)
		if err != nil {
			return
		}
		if !venueSafe.MatchString(id) {
			t.Fatalf("accepted %q, which is not venue-safe", id)
		}
		if back := ClientOrderID(g, ref); back != id {
			t.Fatalf("%q parses to %s/%v, which formats as %q", id, g, ref, back)
		}
	})
}
