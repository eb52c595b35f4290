package store

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// A match's content hash is the SHA-256 of its JSON, and stores written
// before the compact rows of stored.go hold its prices and statistics as
// JSON objects. encoding/json spends most of its time on reflection there: a
// match of football-data's full layout carries 16 quotes, and reading a
// million matches back (a replay) or writing them (an ingest) was a quarter
// of the host's time. The codecs below do the same for these few fixed
// shapes by hand. Each writes exactly the bytes json.Marshal
// writes and reads exactly what json.Unmarshal reads: whatever they do not
// handle (an escape, a key spelt another way, a null, a number out of the
// plain range) is handed to encoding/json, so the result is the same in every
// case, only slower in the rare one. FuzzDecodeOdds and the tests beside it
// hold them to that.

// AppendOdds appends the JSON of odds, byte for byte json.Marshal's.
func AppendOdds(b []byte, odds []soccer.Odds) []byte {
	if out, ok := appendOdds(b, odds); ok {
		return out
	}
	j, _ := json.Marshal(odds)
	return append(b, j...)
}

func appendOdds(b []byte, odds []soccer.Odds) ([]byte, bool) {
	if odds == nil {
		return append(b, "null"...), true
	}
	b = append(b, '[')
	for i, o := range odds {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		b = append(b, `{"Bookmaker":`...)
		if b, ok = appendString(b, o.Bookmaker); !ok {
			return b, false
		}
		b = append(b, `,"Closing":`...)
		b = strconv.AppendBool(b, o.Closing)
		for _, f := range [3]struct {
			key string
			v   float64
		}{{`,"Home":`, o.Home}, {`,"Draw":`, o.Draw}, {`,"Away":`, o.Away}} {
			b = append(b, f.key...)
			if b, ok = appendFloat(b, f.v); !ok {
				return b, false
			}
		}
		b = append(b, '}')
	}
	return append(b, ']'), true
}

// AppendStats appends the JSON of s, byte for byte json.Marshal's.
func AppendStats(b []byte, s soccer.Stats) []byte {
	b = append(b, '{')
	first := true
	for i, c := range s.All() {
		if *c == (soccer.Count{}) {
			continue // omitzero
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, statKeys[i]...)
		b = append(b, `":{"Home":`...)
		b = strconv.AppendInt(b, int64(c.Home), 10)
		b = append(b, `,"Away":`...)
		b = strconv.AppendInt(b, int64(c.Away), 10)
		b = append(b, `,"Known":`...)
		b = strconv.AppendBool(b, c.Known)
		b = append(b, '}')
	}
	return append(b, '}')
}

// statKeys are soccer.Stats' field names in the order Stats.All gives them.
var statKeys = [...]string{"Shots", "ShotsOnTarget", "Corners", "Fouls", "YellowCards", "RedCards", "HalfTimeGoals"}

// appendMatch appends the JSON of m, byte for byte json.Marshal's.
func appendMatch(b []byte, m soccer.Match) []byte {
	if out, ok := appendMatchFast(b, m); ok {
		return out
	}
	j, _ := json.Marshal(m)
	return append(b, j...)
}

func appendMatchFast(b []byte, m soccer.Match) ([]byte, bool) {
	if y := m.Kickoff.Year(); y < 0 || y > 9999 {
		return b, false // MarshalJSON refuses it
	}
	ok := true
	str := func(key, v string) {
		b = append(b, key...)
		if ok {
			b, ok = appendString(b, v)
		}
	}
	str(`{"ID":`, m.ID)
	str(`,"Competition":`, m.Competition)
	str(`,"Season":`, m.Season)
	b = append(b, `,"Kickoff":"`...)
	b = m.Kickoff.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","KickoffTimeKnown":`...)
	b = strconv.AppendBool(b, m.KickoffTimeKnown)
	str(`,"HomeTeam":`, m.HomeTeam)
	str(`,"AwayTeam":`, m.AwayTeam)
	str(`,"Status":`, string(m.Status))
	b = append(b, `,"HomeGoals":`...)
	b = strconv.AppendInt(b, int64(m.HomeGoals), 10)
	b = append(b, `,"AwayGoals":`...)
	b = strconv.AppendInt(b, int64(m.AwayGoals), 10)
	str(`,"Result":`, string(m.Result))
	if !ok {
		return b, false
	}
	b = append(b, `,"Odds":`...)
	if b, ok = appendOdds(b, m.Odds); !ok {
		return b, false
	}
	if m.Stats != (soccer.Stats{}) {
		b = append(b, `,"Stats":`...)
		b = AppendStats(b, m.Stats)
	}
	str(`,"Origin":`, m.Origin)
	return append(b, '}'), ok
}

// appendString appends s quoted when encoding/json would write it as it
// is: printable ASCII other than the characters it escapes ("\<>&), and
// valid UTF-8 other than U+2028 and U+2029. It reports false otherwise.
func appendString(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return b, false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return b, false
		}
		i += size
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// appendFloat appends f as encoding/json does in its plain range (it
// switches to exponents below 1e-6 and from 1e21; NaN and ±Inf are errors).
func appendFloat(b []byte, f float64) ([]byte, bool) {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) || math.IsNaN(f) {
		return b, false
	}
	// A price has two decimals. When f is the double nearest to n/100,
	// those digits are its shortest form (any other decimal of as few
	// digits is 0.01 away, and below 1e13 f's rounding interval is far
	// narrower), so they are written without the general algorithm.
	if f > 0 && f < 1e13 {
		if n := math.Round(f * 100); n/100 == f {
			cents := int64(n)
			b = strconv.AppendInt(b, cents/100, 10)
			switch c := cents % 100; {
			case c == 0:
			case c%10 == 0:
				b = append(b, '.', byte('0'+c/10))
			default:
				b = append(b, '.', byte('0'+c/10), byte('0'+c%10))
			}
			return b, true
		}
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64), true
}

// DecodeOdds reads a match's prices as the stores keep them: what
// json.Unmarshal into a []soccer.Odds gives, the same values and errors.
func DecodeOdds(data []byte) ([]soccer.Odds, error) {
	if out, ok := decodeOdds(data); ok {
		return out, nil
	}
	var out []soccer.Odds
	err := json.Unmarshal(data, &out)
	return out, err
}

// DecodeStats reads a match's statistics as the stores keep them: what
// json.Unmarshal into a soccer.Stats gives, the same values and errors.
func DecodeStats(data []byte) (soccer.Stats, error) {
	if out, ok := decodeStats(data); ok {
		return out, nil
	}
	var out soccer.Stats
	err := json.Unmarshal(data, &out)
	return out, err
}

// lexer reads the plain JSON the fast decoders accept; any other input
// makes it fail, and the caller hands the whole text to encoding/json.
type lexer struct {
	b  []byte
	i  int
	ok bool
}

func (l *lexer) space() {
	for l.i < len(l.b) {
		switch l.b[l.i] {
		case ' ', '\t', '\n', '\r':
			l.i++
		default:
			return
		}
	}
}

// is consumes c (after white space) when it is next.
func (l *lexer) is(c byte) bool {
	l.space()
	if l.i < len(l.b) && l.b[l.i] == c {
		l.i++
		return true
	}
	return false
}

func (l *lexer) want(c byte) {
	if !l.is(c) {
		l.ok = false
	}
}

// str reads a string without escapes or control characters, in valid UTF-8.
func (l *lexer) str() []byte {
	if !l.ok || !l.is('"') {
		l.ok = false
		return nil
	}
	start := l.i
	for l.i < len(l.b) {
		c := l.b[l.i]
		switch {
		case c == '"':
			s := l.b[start:l.i]
			l.i++
			if !utf8.Valid(s) {
				l.ok = false
			}
			return s
		case c == '\\' || c < 0x20:
			l.ok = false
			return nil
		}
		l.i++
	}
	l.ok = false
	return nil
}

// number reads a JSON number's text (its grammar checked).
func (l *lexer) number() []byte {
	l.space()
	start, b := l.i, l.b
	digits := func() int {
		n := 0
		for l.i < len(b) && b[l.i] >= '0' && b[l.i] <= '9' {
			l.i++
			n++
		}
		return n
	}
	if l.i < len(b) && b[l.i] == '-' {
		l.i++
	}
	switch {
	case l.i < len(b) && b[l.i] == '0':
		l.i++
	case digits() == 0:
		l.ok = false
		return nil
	}
	if l.i < len(b) && b[l.i] == '.' {
		l.i++
		if digits() == 0 {
			l.ok = false
			return nil
		}
	}
	if l.i < len(b) && (b[l.i] == 'e' || b[l.i] == 'E') {
		l.i++
		if l.i < len(b) && (b[l.i] == '+' || b[l.i] == '-') {
			l.i++
		}
		if digits() == 0 {
			l.ok = false
			return nil
		}
	}
	return b[start:l.i]
}

func (l *lexer) float() float64 {
	s := l.number()
	if !l.ok {
		return 0
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		l.ok = false
	}
	return f
}

// int reads an integer as json.Unmarshal does into an int (no fraction or
// exponent).
func (l *lexer) int() int {
	s := l.number()
	if !l.ok {
		return 0
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		l.ok = false
	}
	return int(n)
}

func (l *lexer) bool() bool {
	l.space()
	switch {
	case len(l.b)-l.i >= 4 && string(l.b[l.i:l.i+4]) == "true":
		l.i += 4
		return true
	case len(l.b)-l.i >= 5 && string(l.b[l.i:l.i+5]) == "false":
		l.i += 5
		return false
	}
	l.ok = false
	return false
}

// object reads the members of an object, calling member with each key
// (the value is next); member returns false for a key it does not know.
func (l *lexer) object(member func(key []byte) bool) {
	l.want('{')
	if !l.ok || l.is('}') {
		return
	}
	for l.ok {
		key := l.str()
		l.want(':')
		if !l.ok || !member(key) {
			l.ok = false
			return
		}
		if l.is('}') {
			return
		}
		l.want(',')
	}
}

// end checks nothing but white space is left.
func (l *lexer) end() bool {
	l.space()
	return l.ok && l.i == len(l.b)
}

// bookmakerCodes are the codes a stored match usually names: read as the
// same strings every time, not a new string per quote.
var bookmakerCodes = []string{"B365", "BW", "IW", "PS", "WH", "VC", "Max", "Avg", "BF", "BFE", "1XB", "LB", "BMGM", "BV", "CL", "SJ", "GB", "BS", "SB", "SO"}

func bookmakerCode(b []byte) string {
	for _, c := range bookmakerCodes {
		if c == string(b) {
			return c
		}
	}
	return string(b)
}

func decodeOdds(data []byte) ([]soccer.Odds, bool) {
	l := &lexer{b: data, ok: true}
	l.want('[')
	if !l.ok {
		return nil, false
	}
	out := make([]soccer.Odds, 0, 16)
	if l.is(']') {
		return out, l.end()
	}
	for l.ok {
		var o soccer.Odds
		l.object(func(key []byte) bool {
			switch string(key) {
			case "Bookmaker":
				o.Bookmaker = bookmakerCode(l.str())
			case "Closing":
				o.Closing = l.bool()
			case "Home":
				o.Home = l.float()
			case "Draw":
				o.Draw = l.float()
			case "Away":
				o.Away = l.float()
			default:
				return false
			}
			return true
		})
		out = append(out, o)
		if l.is(']') {
			break
		}
		l.want(',')
	}
	return out, l.end()
}

func decodeStats(data []byte) (soccer.Stats, bool) {
	var s soccer.Stats
	all := s.All()
	l := &lexer{b: data, ok: true}
	l.object(func(key []byte) bool {
		i := 0
		for i < len(statKeys) && statKeys[i] != string(key) {
			i++
		}
		if i == len(statKeys) {
			return false
		}
		c := all[i]
		l.object(func(key []byte) bool {
			switch string(key) {
			case "Home":
				c.Home = l.int()
			case "Away":
				c.Away = l.int()
			case "Known":
				c.Known = l.bool()
			default:
				return false
			}
			return true
		})
		return true
	})
	return s, l.end()
}
