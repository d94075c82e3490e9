package grid

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRulesChange(t *testing.T) {
	assert.Empty(t, rulesChange(unitRules, unitRules))
	changed := unitRules
	changed.TickSize = d("0.5")
	changed.MinNotional = d("5")
	assert.Equal(t, "symbol rules changed (tick size 1 → 0.5, min notional 0 → 5): rebuild the grid", rulesChange(unitRules, changed))
}
