package store

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// The stored rows read back exactly what the objects stores wrote before
// read back (the same strings, invalid UTF-8 included, and the same
// numbers, to the bit), and the objects are still read.
func TestStoredRowsReadWhatObjectsRead(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 20_000 {
		m := randomMatch(r)
		objects, _ := json.Marshal(m.Odds)
		want, err := DecodeOdds(objects)
		if err != nil {
			t.Fatal(err)
		}
		rows := AppendStoredOdds(nil, m.Odds)
		for _, data := range [][]byte{rows, objects} {
			got, err := ReadStoredOdds(data)
			if err != nil || !reflect.DeepEqual(got, want) || math.Signbit(first(got)) != math.Signbit(first(want)) {
				t.Fatalf("ReadStoredOdds(%s) = %#v, %v; want %#v", data, got, err, want)
			}
		}
		statObjects, _ := json.Marshal(m.Stats)
		for _, data := range [][]byte{AppendStoredStats(nil, m.Stats), statObjects, []byte("{}")} {
			want := m.Stats
			if string(data) == "{}" {
				want = soccer.Stats{}
			}
			if got, err := ReadStoredStats(data); err != nil || got != want {
				t.Fatalf("ReadStoredStats(%s) = %+v, %v; want %+v", data, got, err, want)
			}
		}
	}
}

func first(o []soccer.Odds) float64 {
	if len(o) == 0 {
		return 0
	}
	return o[0].Home
}

// A full-layout match's 16 quotes take well under half the bytes of the
// objects; PostgreSQL's jsonb spacing reads back; what is not the stored
// form is an error that says so, never a guess.
func TestStoredRows(t *testing.T) {
	var odds []soccer.Odds
	for i := range 16 {
		odds = append(odds, soccer.Odds{Bookmaker: []string{"B365", "BW", "IW", "PS", "WH", "VC", "Max", "Avg"}[i%8], Closing: i >= 8,
			Home: 1.83, Draw: 3.89, Away: 4.05})
	}
	rows, objects := AppendStoredOdds(nil, odds), AppendOdds(nil, odds)
	if len(rows)*2 > len(objects) {
		t.Errorf("16 quotes as rows take %d bytes, as objects %d", len(rows), len(objects))
	}
	if !strings.HasPrefix(string(rows), `[["B365",0,1.83,3.89,4.05],["BW",0,`) {
		t.Errorf("rows: %s", rows)
	}
	jsonb := `[["PS", 1, 1.8, 3.95, 4.2], ["Max", 0, 2, 3, 1e-07]]`
	got, err := ReadStoredOdds([]byte(jsonb))
	want := []soccer.Odds{{Bookmaker: "PS", Closing: true, Home: 1.8, Draw: 3.95, Away: 4.2}, {Bookmaker: "Max", Home: 2, Draw: 3, Away: 1e-7}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("jsonb rows: %#v, %v", got, err)
	}
	// Escapes and nulls take encoding/json's path.
	got, err = ReadStoredOdds([]byte(`[["P\u0053",0,null,2,3]]`))
	if err != nil || len(got) != 1 || got[0].Bookmaker != "PS" || !math.IsNaN(got[0].Home) {
		t.Errorf("an escaped bookmaker and a null price: %#v, %v", got, err)
	}
	if b := AppendStoredOdds(nil, []soccer.Odds{{Bookmaker: "PS", Home: math.NaN(), Draw: math.Inf(1), Away: 2}}); string(b) != `[["PS",0,null,null,2]]` {
		t.Errorf("prices that are not numbers: %s", b)
	}
	for _, bad := range []string{`[["PS",2,1,2,3]]`, `[["PS",0,1,2]]`, `[["PS",0,1,2,3,4]]`, `[[1,0,1,2,3]]`, `[["PS",0,"1",2,3]]`, `[["PS",0,1,2,3]`, `[["PS",0,1,2,3]]x`} {
		if got, err := ReadStoredOdds([]byte(bad)); err == nil {
			t.Errorf("ReadStoredOdds(%s) = %#v, no error", bad, got)
		}
	}
	for _, bad := range []string{`[0,0,0,0,0,0,0,0]`, `[[1]]`, `[[1,2,1]]`, `[1]`, `[[1,2]`, `[[1,2]]x`, `[05]`} {
		if got, err := ReadStoredStats([]byte(bad)); err == nil {
			t.Errorf("ReadStoredStats(%s) = %+v, no error", bad, got)
		}
	}
	s := soccer.Stats{Corners: soccer.Counted(9, 6), Fouls: soccer.Count{Home: 1}}
	if b := AppendStoredStats(nil, s); string(b) != `[0,0,[9,6],[1,0,0]]` {
		t.Errorf("statistics: %s", b)
	}
	if b := AppendStoredStats(nil, soccer.Stats{}); string(b) != `[]` {
		t.Errorf("no statistics: %s", b)
	}
}

// Whatever ReadStoredOdds reads, written again, reads the same.
func FuzzReadStoredOdds(f *testing.F) {
	for _, c := range append(decodingCases, `[["B365",0,1.83,3.89,4.05]]`, `[["P\u0053",1,null,2,3]]`, `[[]]`, `[["",1,0,-0,1e400]]`) {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadStoredOdds(data)
		if err != nil {
			return
		}
		again, err := ReadStoredOdds(AppendStoredOdds(nil, got))
		if err != nil || !sameOdds(got, again) {
			t.Fatalf("%q read %#v, written and read again %#v, %v", data, got, again, err)
		}
	})
}

// Whatever ReadStoredStats reads, written again, reads the same.
func FuzzReadStoredStats(f *testing.F) {
	for _, c := range append(statsCases, `[[24,11],0,[9,6,0]]`, `[]`, `[0]`) {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadStoredStats(data)
		if err != nil {
			return
		}
		if again, err := ReadStoredStats(AppendStoredStats(nil, got)); err != nil || again != got {
			t.Fatalf("%q read %+v, written and read again %+v, %v", data, got, again, err)
		}
	})
}

// sameOdds is reflect.DeepEqual with NaN equal to NaN, and invalid UTF-8
// equal to what encoding/json makes of it.
func sameOdds(a, b []soccer.Odds) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if strings.ToValidUTF8(x.Bookmaker, "\ufffd") != y.Bookmaker || x.Closing != y.Closing {
			return false
		}
		for k, p := range [3]float64{x.Home, x.Draw, x.Away} {
			q := [3]float64{y.Home, y.Draw, y.Away}[k]
			if p != q && !(math.IsNaN(p) && math.IsNaN(q)) || math.Signbit(p) != math.Signbit(q) && !math.IsNaN(p) {
				return false
			}
		}
	}
	return true
}
