package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
)

const teams = 20

// Layout is which columns the files carry.
type Layout string

const (
	// Full is every column of football-data.co.uk's current files.
	Full Layout = "full"
	// Compact is the result and four sets of home/draw/away prices.
	Compact Layout = "compact"
)

type league struct {
	div             string
	layout          Layout
	rng             *rand.Rand
	names           [teams]string
	attack, defence [teams]float64
}

func newLeague(div string, seed uint64) *league {
	lg := &league{div: div, rng: rand.New(rand.NewPCG(seed, seed>>1|1))}
	for i := range teams {
		lg.names[i] = fmt.Sprintf("%s %s", div, clubNames[i])
		lg.attack[i], lg.defence[i] = 0.25*lg.rng.NormFloat64(), 0.25*lg.rng.NormFloat64()
	}
	return lg
}

// quote turns probabilities into decimal prices: log-odds noise, then a
// proportional margin.
func quote(rng *rand.Rand, ph, pd, pa, noise, margin float64) (float64, float64, float64) {
	h, d, a := ph*math.Exp(noise*rng.NormFloat64()), pd*math.Exp(noise*rng.NormFloat64()), pa*math.Exp(noise*rng.NormFloat64())
	s := (h + d + a) / (1 + margin)
	price := func(p float64) float64 { return math.Max(1.01, math.Round(100*s/p)/100) }
	return price(h), price(d), price(a)
}

func poisson(rng *rand.Rand, lambda float64) int {
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// outcomeProbabilities are home win, draw and away win for independent
// Poisson scores.
func outcomeProbabilities(lh, la float64) (float64, float64, float64) {
	var ph, pd, pa float64
	for i := range 11 {
		pi := math.Exp(-lh) * math.Pow(lh, float64(i)) / math.Gamma(float64(i+1))
		for j := range 11 {
			pj := math.Exp(-la) * math.Pow(la, float64(j)) / math.Gamma(float64(j+1))
			switch {
			case i > j:
				ph += pi * pj
			case i == j:
				pd += pi * pj
			default:
				pa += pi * pj
			}
		}
	}
	s := ph + pd + pa
	return ph / s, pd / s, pa / s
}

func rotate(s []int, k int) []int {
	out := make([]int, len(s))
	for i := range s {
		out[(i+k)%len(s)] = s[i]
	}
	return out
}

var clubNames = [teams]string{"Albion", "Athletic", "Borough", "City", "County", "Dynamo", "Forest", "Harriers", "Rangers", "Rovers",
	"Saints", "Spartans", "Town", "United", "Villa", "Wanderers", "Wednesday", "Academicals", "Corinthians", "Olympic"}
