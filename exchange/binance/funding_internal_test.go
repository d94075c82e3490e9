package binance

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodeFundingHistory pins the payload of GET /fapi/v1/fundingRate
// (real records, 2025-05-04) and the errors of malformed ones.
func TestDecodeFundingHistory(t *testing.T) {
	got, err := decodeFundingHistory([]byte(`[{"symbol":"BTCUSDT","fundingTime":1746316800001,"fundingRate":"0.00000370","markPrice":"95809.50000000"},
		{"symbol":"BTCUSDT","fundingTime":1746345600000,"fundingRate":"-0.00002052","markPrice":""},
		{"symbol":"BTCUSDT","fundingTime":1746374400000,"fundingRate":"0.00001000"}]`))
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, int64(1746316800001), got[0].Time.UnixMilli())
	assert.Equal(t, "0.0000037", got[0].Rate.String())
	assert.Equal(t, "95809.5", got[0].MarkPrice.String())
	assert.Equal(t, "-0.00002052", got[1].Rate.String())
	assert.True(t, got[1].MarkPrice.IsZero(), "an empty markPrice is unknown")
	assert.True(t, got[2].MarkPrice.IsZero(), "an absent markPrice is unknown")

	got, err = decodeFundingHistory([]byte(`[]`))
	require.NoError(t, err)
	assert.Empty(t, got)

	for _, tc := range []struct{ body, want string }{
		{`{"code":-1121,"msg":"Invalid symbol."}`, "binance: fundingRate: malformed answer"},
		{`[{"symbol":"BTCUSDT","fundingTime":"x","fundingRate":"0.0001"}]`, "malformed answer: json: invalid number literal"},
		{`[{"symbol":"BTCUSDT","fundingTime":0,"fundingRate":"0.0001"}]`, `record 0: fundingTime "0" is not a positive integer`},
		{`[{"symbol":"BTCUSDT","fundingTime":1,"fundingRate":"0.0001"},{"symbol":"BTCUSDT","fundingTime":2,"fundingRate":"abc"}]`, `record 1: fundingRate "abc"`},
		{`[{"symbol":"BTCUSDT","fundingTime":1,"fundingRate":"0.0001","markPrice":12}]`, "record 0: markPrice 12 is not a string"},
		{`[{"symbol":"BTCUSDT","fundingTime":1,"fundingRate":"0.0001","markPrice":"-5"}]`, `record 0: markPrice "-5" is not a price`},
	} {
		_, err := decodeFundingHistory([]byte(tc.body))
		assert.ErrorContains(t, err, tc.want, tc.body)
	}
}

// FuzzDecodeFundingHistory: any answer decodes or fails with an error,
// never a panic; what decodes has positive times and no negative mark.
func FuzzDecodeFundingHistory(f *testing.F) {
	f.Add([]byte(`[{"symbol":"BTCUSDT","fundingTime":1746316800001,"fundingRate":"0.00000370","markPrice":"95809.50000000"}]`))
	f.Add([]byte(`[{"symbol":"X","fundingTime":1,"fundingRate":"-1e-8","markPrice":null}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"code":-1130}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeFundingHistory(b)
		if err != nil {
			return
		}
		for i, s := range got {
			if s.Time.UnixMilli() <= 0 || s.MarkPrice.IsNegative() {
				t.Fatalf("record %d decoded to %+v from %s", i, s, b)
			}
		}
	})
}
