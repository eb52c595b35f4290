package store

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// How the stores keep a match's prices and statistics: compact JSON rows,
// not the objects json.Marshal writes. A match of football-data's full
// layout carries 16 quotes; as objects they were 1.1 KB of its 2 KB row,
// and every byte is written twice (the write-ahead log, then the table) and
// read back by every replay. As rows they are 0.45 KB:
//
//	prices:     [["B365",0,1.83,3.89,4.05],["PS",1,1.8,3.95,4.2]]   bookmaker, closing (0 or 1), home, draw, away
//	statistics: [[24,11],0,[9,6]]   Stats.All's counts in order: [home,away] known, [home,away,0] not known, 0 none; trailing nones left out
//
// Rows written before are objects (DecodeOdds, DecodeStats) and are read as
// they are; a match written again is written as rows. The content hash is
// another thing (appendMatch) and does not change. A price that is not a
// number (which the contract never lets through) is null, read back as NaN.

// AppendStoredOdds appends odds as the stores keep them: null when nil.
func AppendStoredOdds(b []byte, odds []soccer.Odds) []byte {
	if odds == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, o := range odds {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendQuoted(append(b, '['), o.Bookmaker)
		if o.Closing {
			b = append(b, ",1"...)
		} else {
			b = append(b, ",0"...)
		}
		for _, v := range [3]float64{o.Home, o.Draw, o.Away} {
			b = appendNumber(append(b, ','), v)
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

// AppendStoredStats appends s as the stores keep it.
func AppendStoredStats(b []byte, s soccer.Stats) []byte {
	all := s.All()
	n := len(all)
	for n > 0 && *all[n-1] == (soccer.Count{}) {
		n--
	}
	b = append(b, '[')
	for i, c := range all[:n] {
		if i > 0 {
			b = append(b, ',')
		}
		if *c == (soccer.Count{}) {
			b = append(b, '0')
			continue
		}
		b = strconv.AppendInt(append(b, '['), int64(c.Home), 10)
		b = strconv.AppendInt(append(b, ','), int64(c.Away), 10)
		if !c.Known {
			b = append(b, ",0"...)
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

// ReadStoredOdds reads a match's prices as a store keeps them: rows, or the
// objects of a row written before them.
func ReadStoredOdds(data []byte) ([]soccer.Odds, error) {
	l := &lexer{b: data, ok: true}
	if !l.is('[') || !l.is('[') {
		return DecodeOdds(data) // objects, [] or null
	}
	if out, ok := readOddsRows(data); ok {
		return out, nil
	}
	return readOddsRowsSlow(data)
}

// ReadStoredStats reads a match's statistics as a store keeps them: rows,
// or the object of a row written before them.
func ReadStoredStats(data []byte) (soccer.Stats, error) {
	l := &lexer{b: data, ok: true}
	if !l.is('[') {
		return DecodeStats(data)
	}
	var s soccer.Stats
	all := s.All()
	if l.is(']') && l.end() {
		return s, nil
	}
	for i := 0; l.ok; i++ {
		if i == len(all) {
			return soccer.Stats{}, fmt.Errorf("statistics %.40q: more than %d counts", data, len(all))
		}
		if !l.is('0') {
			c := all[i]
			l.want('[')
			c.Home = l.int()
			l.want(',')
			c.Away = l.int()
			c.Known = true
			if l.is(',') {
				l.want('0')
				c.Known = false
			}
			l.want(']')
		}
		if l.is(']') {
			break
		}
		l.want(',')
	}
	if !l.end() {
		return soccer.Stats{}, fmt.Errorf("statistics %.40q: not the stored form", data)
	}
	return s, nil
}

// readOddsRows reads rows without escapes, nulls or exponents.
func readOddsRows(data []byte) ([]soccer.Odds, bool) {
	l := &lexer{b: data, ok: true}
	l.want('[')
	out := make([]soccer.Odds, 0, 16)
	for l.ok {
		var o soccer.Odds
		l.want('[')
		o.Bookmaker = bookmakerCode(l.str())
		l.want(',')
		switch l.int() {
		case 0:
		case 1:
			o.Closing = true
		default:
			l.ok = false
		}
		for _, p := range [3]*float64{&o.Home, &o.Draw, &o.Away} {
			l.want(',')
			*p = l.float()
		}
		l.want(']')
		out = append(out, o)
		if l.is(']') {
			break
		}
		l.want(',')
	}
	return out, l.end()
}

// readOddsRowsSlow reads any rows encoding/json reads (an escaped bookmaker,
// a null price).
func readOddsRowsSlow(data []byte) ([]soccer.Odds, error) {
	var rows [][]any
	if err := json.Unmarshal(data, &rows); err != nil {
		return nil, fmt.Errorf("prices: %w", err)
	}
	out := make([]soccer.Odds, len(rows))
	for i, r := range rows {
		bad := func(what string) error {
			return fmt.Errorf("prices: quote %d of %d is not [bookmaker, 0 or 1, home, draw, away]: %s", i+1, len(rows), what)
		}
		if len(r) != 5 {
			return nil, bad(fmt.Sprintf("%d fields", len(r)))
		}
		bm, ok := r[0].(string)
		if !ok {
			return nil, bad("the bookmaker is not a string")
		}
		closing, ok := r[1].(float64)
		if !ok || closing != 0 && closing != 1 {
			return nil, bad("closing is not 0 or 1")
		}
		out[i] = soccer.Odds{Bookmaker: bm, Closing: closing == 1}
		for k, p := range [3]*float64{&out[i].Home, &out[i].Draw, &out[i].Away} {
			switch v := r[2+k].(type) {
			case float64:
				*p = v
			case nil:
				*p = math.NaN()
			default:
				return nil, bad("a price is not a number")
			}
		}
	}
	return out, nil
}

// appendQuoted appends s as a JSON string.
func appendQuoted(b []byte, s string) []byte {
	if out, ok := appendString(b, s); ok {
		return out
	}
	j, _ := json.Marshal(s) // a string always encodes
	return append(b, j...)
}

// appendNumber appends f as a JSON number, null when it is not one.
func appendNumber(b []byte, f float64) []byte {
	if out, ok := appendFloat(b, f); ok {
		return out
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
