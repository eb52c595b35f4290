package oip

import (
	"bytes"
	"net/http/httptest"
	"strconv"
	"testing"
)

// FuzzOIPRequest: any infer body, JSON or JSON followed by binary tensors,
// decodes to an error or to tensors whose values match their shapes'
// claims no more than the body holds, never a panic.
func FuzzOIPRequest(f *testing.F) {
	f.Add([]byte(`{"inputs": [{"name": "home_team", "shape": [2], "datatype": "BYTES", "data": ["Arsenal", "Arsenal"]},
		{"name": "away_team", "shape": [2], "datatype": "BYTES", "data": ["Chelsea", "Chelsea"]},
		{"name": "competition", "shape": [2], "datatype": "BYTES", "data": ["E0", "E0"]}]}`), -1)
	f.Add([]byte(`{"inputs": [{"name": "home_team", "shape": [1, 1], "datatype": "BYTES", "data": [["Arsenal"]]}]}`), -1)
	f.Add([]byte(`{"inputs": [{"name": "home_team", "shape": [-1], "datatype": "BYTES", "data": [1, null, {}]}]}`), -1)
	bin := `{"inputs": [{"name": "home_team", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 11}}]}`
	f.Add(append([]byte(bin), 7, 0, 0, 0, 'A', 'r', 's', 'e', 'n', 'a', 'l'), len(bin))
	f.Add([]byte(`{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]}`+"\x00\x00\x80?\x00\x00\x00@"), 96)
	f.Fuzz(func(t *testing.T, data []byte, headerLen int) {
		r := httptest.NewRequest("POST", "/v2/models/soccerpredict/infer", bytes.NewReader(data))
		if headerLen >= 0 {
			r.Header.Set(BinaryHeader, strconv.Itoa(headerLen))
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
