package synth

import (
	"bufio"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// The bookmakers of the full layout's home/draw/away columns, with how much
// noise their prices see the truth through and their margin; Max and Avg
// follow from them.
var fullBooks = []struct{ noise, margin float64 }{
	{0.08, 0.05},  // B365
	{0.08, 0.055}, // BW
	{0.09, 0.06},  // IW
	{0.07, 0.025}, // PS
	{0.08, 0.06},  // WH
	{0.08, 0.05},  // VC
}

var referees = [...]string{"A Taylor", "M Oliver", "S Hooper", "C Kavanagh", "P Tierney", "J Brooks", "R Jones", "D Coote", "T Robinson",
	"S Attwell", "J Gillett", "T Bramall", "A Madley", "C Pawson", "D England", "M Salisbury", "T Harrington", "S Barrott", "G Scott", "L Smith"}

// fullRow writes one match in the full layout: the result, half-time
// score, referee and statistics, then the pre-match prices and the closing
// ones (the same bookmakers, seeing the truth more clearly).
func (lg *league) fullRow(w *bufio.Writer, day time.Time, h, a int, lh, la float64, hg, ag int, p [3]float64) {
	rng := lg.rng
	b := make([]byte, 0, 640)
	b = append(b, lg.div...)
	b = append(b, ',')
	b = day.AppendFormat(b, "02/01/2006")
	b = append(b, ",15:00,"...)
	b = append(b, lg.names[h]...)
	b = append(b, ',')
	b = append(b, lg.names[a]...)
	hth, hta := binomial(rng, hg, 0.45), binomial(rng, ag, 0.45)
	b = appendInts(b, hg, ag)
	b = append(b, ',')
	b = append(b, soccer.ResultOf(hg, ag)...)
	b = appendInts(b, hth, hta)
	b = append(b, ',')
	b = append(b, soccer.ResultOf(hth, hta)...)
	b = append(b, ',')
	b = append(b, referees[rng.IntN(len(referees))]...)
	hs, as := hg+poisson(rng, 8+4*lh), ag+poisson(rng, 8+4*la)
	hst, ast := min(hs, hg+poisson(rng, 1.5+1.5*lh)), min(as, ag+poisson(rng, 1.5+1.5*la))
	b = appendInts(b, hs, as, hst, ast, poisson(rng, 10.5), poisson(rng, 10.5), poisson(rng, 3+1.5*lh), poisson(rng, 3+1.5*la),
		poisson(rng, 1.7), poisson(rng, 1.9), bernoulli(rng, 0.05), bernoulli(rng, 0.06))
	over := 1 - poissonCDF(lh+la, 2)
	line := -math.Round((lh-la)*4) / 4 // the home side's Asian handicap
	if line == 0 {
		line = 0 // not -0
	}
	for _, closing := range []bool{false, true} {
		k := 1.0
		if closing {
			k = 0.5
		}
		// Home/draw/away: each bookmaker, then the best price and the mean.
		var best, sum [3]float64
		for _, bk := range fullBooks {
			q := [3]float64{}
			q[0], q[1], q[2] = quote(rng, p[0], p[1], p[2], k*bk.noise, bk.margin)
			b = appendPrices(b, q[:]...)
			for i := range q {
				best[i], sum[i] = math.Max(best[i], q[i]), sum[i]+q[i]
			}
		}
		b = appendPrices(b, best[:]...)
		b = appendPrices(b, sum[0]/6, sum[1]/6, sum[2]/6)
		// Over/under 2.5 goals: Bet365, Pinnacle, the best and the mean.
		o1, u1 := quote2(rng, over, k*0.08, 0.05)
		o2, u2 := quote2(rng, over, k*0.06, 0.025)
		b = appendPrices(b, o1, u1, o2, u2, math.Max(o1, o2)+0.03, math.Max(u1, u2)+0.03, (o1+o2)/2, (u1+u2)/2)
		// Asian handicap: the line, then Bet365, Pinnacle, the best and the mean.
		l := line
		if closing && rng.IntN(4) == 0 {
			l += 0.25 * float64(1-2*rng.IntN(2))
		}
		b = append(b, ',')
		b = strconv.AppendFloat(b, l, 'f', -1, 64)
		ah := ahProbability(lh, la, l)
		h1, a1 := quote2(rng, ah, k*0.06, 0.05)
		h2, a2 := quote2(rng, ah, k*0.05, 0.025)
		b = appendPrices(b, h1, a1, h2, a2, math.Max(h1, h2)+0.02, math.Max(a1, a2)+0.02, (h1+h2)/2, (a1+a2)/2)
	}
	b = append(b, '\r', '\n')
	w.Write(b)
}

func appendInts(b []byte, vs ...int) []byte {
	for _, v := range vs {
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return b
}

func appendPrices(b []byte, vs ...float64) []byte {
	for _, v := range vs {
		b = append(b, ',')
		b = strconv.AppendFloat(b, math.Max(1.01, math.Round(100*v)/100), 'f', 2, 64)
	}
	return b
}

// quote2 prices a two-way market whose first side has probability p.
func quote2(rng *rand.Rand, p, noise, margin float64) (float64, float64) {
	x, y := p*math.Exp(noise*rng.NormFloat64()), (1-p)*math.Exp(noise*rng.NormFloat64())
	s := (x + y) / (1 + margin)
	return s / x, s / y
}

// ahProbability is the chance the home side covers handicap line (ignoring
// pushes and split lines, as a price generator may).
func ahProbability(lh, la, line float64) float64 {
	var win, lose float64
	for i := range 11 {
		pi := math.Exp(-lh) * math.Pow(lh, float64(i)) / math.Gamma(float64(i+1))
		for j := range 11 {
			pj := math.Exp(-la) * math.Pow(la, float64(j)) / math.Gamma(float64(j+1))
			switch d := float64(i-j) + line; {
			case d > 0:
				win += pi * pj
			case d < 0:
				lose += pi * pj
			}
		}
	}
	return math.Min(0.95, math.Max(0.05, win/(win+lose)))
}

func poissonCDF(lambda float64, k int) float64 {
	p, term := 0.0, math.Exp(-lambda)
	for i := 0; i <= k; i++ {
		p += term
		term *= lambda / float64(i+1)
	}
	return p
}

func binomial(rng *rand.Rand, n int, p float64) int {
	k := 0
	for range n {
		if rng.Float64() < p {
			k++
		}
	}
	return k
}

func bernoulli(rng *rand.Rand, p float64) int {
	if rng.Float64() < p {
		return 1
	}
	return 0
}
