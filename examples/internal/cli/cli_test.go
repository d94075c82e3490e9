package cli

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUsage(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", Usage("-mode: bad"))
	assert.True(t, IsUsage(err))
	assert.EqualError(t, err, "wrapped: -mode: bad")
	assert.False(t, IsUsage(errors.New("other")))
}

func TestFindData(t *testing.T) {
	p, err := FindData(DefaultData)
	require.NoError(t, err)
	_, err = os.Stat(p)
	require.NoError(t, err, "the shipped month is found from the package folder")
	_, err = FindData("/no/such.csv")
	assert.True(t, IsUsage(err))
	assert.EqualError(t, err, `-data "/no/such.csv": no such file`)
	require.NoError(t, BTCUSDT.Validate())
}

func TestMessageHasOnePrefix(t *testing.T) {
	assert.Equal(t, "backtest: no candles", Message("backtest", errors.New("backtest: no candles")))
	assert.Equal(t, "backtest: -mode: bad", Message("backtest", Usage("-mode: bad")))
	assert.Equal(t, "paper: backtest: x", Message("paper", errors.New("backtest: x")))
}
