package store

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// awkward are strings encoding/json escapes or rewrites, beside plain ones.
var awkward = []string{"", "B365", "Arsenal", "1. FC Köln", "Atlético Madrid", "Brighton & Hove", "<b>", `say "hi"`, `back\slash`,
	"tab\there", "line\u2028sep", "para\u2029sep", "bad \xff utf-8", "replacement \ufffd", "日本", "nul\x00"}

var awkwardFloats = []float64{0, math.Copysign(0, -1), 1, 1.83, 3.4, 101, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 1.5e300, -2.25, 5e-324,
	math.MaxFloat64, 0.1 + 0.2}

func randomMatch(r *rand.Rand) soccer.Match {
	pick := func() string { return awkward[r.IntN(len(awkward))] }
	plain := func() string { return []string{"E0", "D1", "Arsenal", "Chelsea", "2324", "E0/2324.csv:7"}[r.IntN(6)] }
	str := func() string {
		if r.IntN(4) == 0 {
			return pick()
		}
		return plain()
	}
	f := func() float64 {
		if r.IntN(5) == 0 {
			return awkwardFloats[r.IntN(len(awkwardFloats))]
		}
		return 1 + math.Round(r.Float64()*2000)/100
	}
	zones := []*time.Location{time.UTC, time.FixedZone("CET", 3600), time.FixedZone("odd", -(5*3600 + 30*60))}
	m := soccer.Match{ID: str(), Competition: str(), Season: str(),
		Kickoff:          time.Date(1990+r.IntN(40), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), 0, r.IntN(3)*500_000_000, zones[r.IntN(3)]),
		KickoffTimeKnown: r.IntN(2) == 0, HomeTeam: str(), AwayTeam: str(), Status: soccer.Status(str()),
		HomeGoals: r.IntN(7) - 1, AwayGoals: r.IntN(7), Result: soccer.Result(str()), Origin: str()}
	switch r.IntN(5) {
	case 0: // nil odds
	case 1:
		m.Odds = []soccer.Odds{}
	default:
		for range r.IntN(17) {
			m.Odds = append(m.Odds, soccer.Odds{Bookmaker: str(), Closing: r.IntN(2) == 0, Home: f(), Draw: f(), Away: f()})
		}
	}
	for _, c := range m.Stats.All() {
		switch r.IntN(3) {
		case 0:
		case 1:
			*c = soccer.Counted(r.IntN(30), r.IntN(30))
		default:
			*c = soccer.Count{Home: r.IntN(3) - 1, Away: r.IntN(2), Known: r.IntN(2) == 0}
		}
	}
	return m
}

// TestMatchJSONIsEncodingJSONs holds the hand-written encoders to
// json.Marshal's bytes (the content hash of every stored match depends on
// them), and the decoders to json.Unmarshal's values, over random matches
// with the strings and numbers encoding/json treats specially.
func TestMatchJSONIsEncodingJSONs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		m := randomMatch(r)
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendMatch(nil, m); !bytes.Equal(got, want) {
			t.Fatalf("match %d:\n got %s\nwant %s", i, got, want)
		}
		wantOdds, _ := json.Marshal(m.Odds)
		gotOdds := AppendOdds([]byte("x"), m.Odds)
		if !bytes.Equal(gotOdds[1:], wantOdds) {
			t.Fatalf("odds %d:\n got %s\nwant %s", i, gotOdds[1:], wantOdds)
		}
		wantStats, _ := json.Marshal(m.Stats)
		if got := StatsJSON(m.Stats); !bytes.Equal(got, wantStats) {
			t.Fatalf("stats %d:\n got %s\nwant %s", i, got, wantStats)
		}
		sameDecoding(t, wantOdds)
		sameStats(t, wantStats)
	}
	// NaN has no JSON: both write nothing (the stores never see one: the
	// data contract drops such a quote).
	nan := []soccer.Odds{{Bookmaker: "B365", Home: math.NaN(), Draw: 3, Away: 4}}
	if got, err := json.Marshal(nan); err == nil || len(AppendOdds(nil, nan)) != 0 {
		t.Fatalf("NaN odds: json %s %v, ours %s", got, err, AppendOdds(nil, nan))
	}
}

// decodingCases are texts the stores could hold or a hand could write: the
// form PostgreSQL's jsonb gives back, other key orders and spellings,
// escapes, nulls and broken JSON.
var decodingCases = []string{
	`[]`, ` [ ] `, `null`, ``, `[`, `[{}]`, `[{},{}]`, `{}`, `"x"`, `[1]`, `[{"Bookmaker":"B365"}]x`, `[{"Bookmaker":"B365"},]`,
	`[{"Away": 4.05, "Draw": 3.89, "Home": 1.83, "Closing": false, "Bookmaker": "B365"}]`,
	`[{"bookmaker":"PS","closing":true,"home":2,"draw":3,"away":4}]`,
	`[{"Bookmaker":"PS","Extra":1,"Home":2}]`,
	`[{"Bookmaker":"P\u0053","Home":2}]`, `[{"Bookmaker":"P\"S"}]`, `[{"Bookmaker":"\xff"}]`, `[{"Bookmaker":null}]`,
	`[{"Home":null}]`, `[{"Home":"2"}]`, `[{"Home":01}]`, `[{"Home":1.}]`, `[{"Home":-}]`, `[{"Home":1e999}]`, `[{"Home":-0}]`,
	`[{"Home":1E+2,"Draw":2e-2,"Away":0.5}]`, `[{"Closing":tru}]`, `[{"Closing":1}]`, `[{"Home":2,"Home":3}]`,
	"[{\"Bookmaker\":\"B\tX\"}]", "\n[{\"Bookmaker\" :\"PS\" , \"Home\":\t2}]\r\n",
}

var statsCases = []string{
	`{}`, ` { } `, `null`, ``, `{`, `[]`, `{"Shots":{}}`, `{"Shots":{"Home":1,"Away":2,"Known":true},"Corners":{"Home":3}}`,
	`{"shots":{"home":1}}`, `{"Shots":{"Home":1.5}}`, `{"Shots":{"Home":1e2}}`, `{"Shots":{"Home":99999999999999999999}}`,
	`{"Shots":null}`, `{"Shots":{"Home":null}}`, `{"Shots":{"Home":1},"Shots":{"Away":2}}`, `{"Possession":{"Home":1}}`,
	`{"Shots":{"Home":-3,"Away":0,"Known":false}}x`, `{"Shots":{"Known":true,}}`,
	`{"Shots": {"Away": 11, "Home": 24, "Known": true}, "HalfTimeGoals": {"Away": 0, "Home": 1, "Known": true}}`,
}

// Every price of two decimals up to 10,000 is written as encoding/json
// writes it (the shortcut for cents), and so are its neighbours.
func TestPricesAreWrittenAsEncodingJSONWritesThem(t *testing.T) {
	for n := range 1_000_001 {
		f := float64(n) / 100
		for _, g := range []float64{f, math.Nextafter(f, 0), math.Nextafter(f, math.Inf(1))} {
			got, ok := appendFloat(nil, g)
			if !ok && g < 1e-6 {
				continue // out of the plain range: the caller hands it to encoding/json
			}
			want, _ := json.Marshal(g)
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("%v: wrote %s, encoding/json %s", g, got, want)
			}
		}
	}
}

func TestDecodersReadWhatEncodingJSONReads(t *testing.T) {
	for _, c := range decodingCases {
		sameDecoding(t, []byte(c))
	}
	for _, c := range statsCases {
		sameStats(t, []byte(c))
	}
}

func sameDecoding(t *testing.T, data []byte) {
	t.Helper()
	var want []soccer.Odds
	wantErr := json.Unmarshal(data, &want)
	got, err := DecodeOdds(data)
	if (err == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeOdds(%q) = %#v, %v; json.Unmarshal: %#v, %v", data, got, err, want, wantErr)
	}
}

func sameStats(t *testing.T, data []byte) {
	t.Helper()
	var want soccer.Stats
	wantErr := json.Unmarshal(data, &want)
	got, err := DecodeStats(data)
	if (err == nil) != (wantErr == nil) || got != want {
		t.Fatalf("DecodeStats(%q) = %+v, %v; json.Unmarshal: %+v, %v", data, got, err, want, wantErr)
	}
}

func FuzzDecodeOdds(f *testing.F) {
	for _, c := range decodingCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameDecoding(t, data) })
}

func FuzzDecodeStats(f *testing.F) {
	for _, c := range statsCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameStats(t, data) })
}

func BenchmarkDecodeOdds(b *testing.B) {
	m := randomMatch(rand.New(rand.NewPCG(3, 4)))
	m.Odds = nil
	for i := range 16 {
		m.Odds = append(m.Odds, soccer.Odds{Bookmaker: []string{"B365", "BW", "IW", "PS", "WH", "VC", "Max", "Avg"}[i%8], Closing: i >= 8, Home: 1.83, Draw: 3.89, Away: 4.05})
	}
	data, _ := json.Marshal(m.Odds)
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var out []soccer.Odds
			json.Unmarshal(data, &out)
		}
	})
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			DecodeOdds(data)
		}
	})
}

func BenchmarkAppendOdds(b *testing.B) {
	var odds []soccer.Odds
	for i := range 16 {
		odds = append(odds, soccer.Odds{Bookmaker: []string{"B365", "BW", "IW", "PS", "WH", "VC", "Max", "Avg"}[i%8], Closing: i >= 8,
			Home: 1.83 + float64(i)/100, Draw: 3.4, Away: 4.05})
	}
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(odds)
		}
	})
	b.Run("store", func(b *testing.B) {
		buf := make([]byte, 0, 2048)
		for b.Loop() {
			AppendOdds(buf[:0], odds)
		}
	})
}
