package api

import (
	"bytes"
	"net/http/httptest"
	"strconv"
	"testing"
)

// FuzzDecodePrediction: the reflection-free reader of the prediction route
// accepts only what the strict decoder reads the same way, and the strict
// decoder never panics, whatever the body.
func FuzzDecodePrediction(f *testing.F) {
	for _, seed := range []string{
		`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}`,
		`{"home_team":"Man City","away_team":"Spurs","competition":"E0","kickoff":"2024-08-17T14:00:00Z"}`,
		`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "odds": {"home": 2.1, "draw": 3.4, "away": 3.6}}`,
		`{"home_team": "K\u00f6ln", "away_team": "Bayern M\u00fcnchen", "competition": "D1"}`,
		`{"home_team": "Arsenal", "home_team": "Chelsea"}`, `{"home_team": "a"} {"x": 1}`, `{"extra": 1}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var quick, strict PredictionRequest
		ok := quickDecodePrediction(data, &quick)
		p := decodeFrom(bytes.NewReader(data), &strict)
		if ok && p != nil {
			t.Fatalf("the quick reader took %q, the strict decoder refused it: %+v", data, *p)
		}
		if ok && quick != strict {
			t.Fatalf("%q: quick %+v, strict %+v", data, quick, strict)
		}
	})
}

// FuzzOIPRequest: any infer body, JSON or JSON followed by binary tensors,
// decodes to an error or to tensors whose values match their shapes'
// claims no more than the body holds, never a panic.
func FuzzOIPRequest(f *testing.F) {
	f.Add([]byte(oipRows(2)), -1)
	f.Add([]byte(`{"inputs": [{"name": "home_team", "shape": [1, 1], "datatype": "BYTES", "data": [["Arsenal"]]}]}`), -1)
	f.Add([]byte(`{"inputs": [{"name": "home_team", "shape": [-1], "datatype": "BYTES", "data": [1, null, {}]}]}`), -1)
	bin := `{"inputs": [{"name": "home_team", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 11}}]}`
	f.Add(append([]byte(bin), 7, 0, 0, 0, 'A', 'r', 's', 'e', 'n', 'a', 'l'), len(bin))
	f.Add([]byte(`{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]}`+"\x00\x00\x80?\x00\x00\x00@"), 96)
	f.Fuzz(func(t *testing.T, data []byte, headerLen int) {
		r := httptest.NewRequest("POST", "/v2/models/soccerpredict/infer", bytes.NewReader(data))
		if headerLen >= 0 {
			r.Header.Set(binaryHeader, strconv.Itoa(headerLen))
		}
		req, _, err := decodeREST(r, data)
		if err != nil {
			return
		}
		for _, in := range req.Inputs {
			if len(in.Strings)+len(in.Numbers) > len(data) {
				t.Fatalf("input %q: %d values from a %d-byte body", in.Name, len(in.Strings)+len(in.Numbers), len(data))
			}
		}
	})
}
