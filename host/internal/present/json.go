package present

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// The prediction routes answer tens of thousands of requests a second, where
// encoding/json's reflection is a tenth of the CPU. This file writes a
// PredictionResponse by hand, byte for byte what encoding/json writes (the
// tests compare the two on every field).

// AppendJSON appends the response as encoding/json's Encoder writes it
// (HTML-safe escaping, a trailing newline).
func (p PredictionResponse) AppendJSON(b []byte) []byte {
	b = p.appendObject(b)
	return append(b, '\n')
}

func (p PredictionResponse) appendObject(b []byte) []byte {
	if p.Markets != nil || p.ServedAt != nil {
		// A goals model's answer: encoding/json writes the rarer fields.
		enc, _ := json.Marshal(p)
		return append(b, enc...)
	}
	f := p.Fixture
	b = append(b, `{"fixture":{"id":`...)
	b = appendString(b, f.ID)
	b = append(b, `,"competition":`...)
	b = appendString(b, f.Competition)
	b = append(b, `,"season":`...)
	b = appendString(b, f.Season)
	b = append(b, `,"kickoff":"`...)
	b = f.Kickoff.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","home_team":`...)
	b = appendString(b, f.HomeTeam)
	b = append(b, `,"away_team":`...)
	b = appendString(b, f.AwayTeam)
	b = append(b, `},"probabilities":`...)
	b = appendProbabilities(b, p.Probabilities)
	b = append(b, `,"model":{"name":`...)
	b = appendString(b, p.Model.Name)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(p.Model.Version), 10)
	b = append(b, `},"feature_schema_version":`...)
	b = appendString(b, p.FeatureSchemaVersion)
	b = append(b, `,"generation":`...)
	b = strconv.AppendInt(b, p.Generation, 10)
	if p.PointInTime {
		b = append(b, `,"point_in_time":true`...)
	}
	if r := p.Result; r != nil {
		b = append(b, `,"result":{"home_goals":`...)
		b = strconv.AppendInt(b, int64(r.HomeGoals), 10)
		b = append(b, `,"away_goals":`...)
		b = strconv.AppendInt(b, int64(r.AwayGoals), 10)
		b = append(b, `,"result":`...)
		b = appendString(b, r.Result)
		b = append(b, '}')
	}
	if m := p.Market; m != nil {
		b = append(b, `,"market":{`...)
		if m.Bookmaker != "" {
			b = append(b, `"bookmaker":`...)
			b = appendString(b, m.Bookmaker)
			b = append(b, ',')
		}
		b = append(b, `"source":`...)
		b = appendString(b, m.Source)
		b = append(b, `,"probabilities":`...)
		b = appendProbabilities(b, m.Probabilities)
		b = append(b, `,"overround":`...)
		b = appendFloat(b, m.Overround)
		b = append(b, `,"edge":`...)
		b = appendProbabilities(b, m.Edge)
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendProbabilities(b []byte, p ProbabilitiesJSON) []byte {
	b = append(b, `{"home":`...)
	b = appendFloat(b, p.Home)
	b = append(b, `,"draw":`...)
	b = appendFloat(b, p.Draw)
	b = append(b, `,"away":`...)
	b = appendFloat(b, p.Away)
	return append(b, '}')
}

// appendFloat formats like encoding/json: the shortest representation,
// exponent form only for very small or large magnitudes.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		// encoding/json refuses these; a forecast never holds one (the host
		// validates every probability), so write null rather than bad JSON.
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does with HTML escaping on.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
