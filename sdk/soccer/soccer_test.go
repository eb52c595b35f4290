package soccer

import (
	"math"
	"strings"
	"testing"
)

func TestImpliedRemovesTheMargin(t *testing.T) {
	p, err := Odds{Bookmaker: "PSC", Home: 2.0, Draw: 3.5, Away: 4.0}.Implied()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	s := 1/2.0 + 1/3.5 + 1/4.0
	if math.Abs(p.Home-0.5/s) > 1e-12 {
		t.Fatalf("home = %v, want %v", p.Home, 0.5/s)
	}
	if _, err := (Odds{Home: 1, Draw: 3, Away: 4}).Implied(); err == nil {
		t.Fatal("a price of 1 was accepted")
	}
	// Messages name the bookmaker and the price as people do, not the column.
	_, err = Odds{Bookmaker: "PS", Closing: true, Home: 2, Draw: 0.5, Away: 4}.Implied()
	if err == nil || err.Error() != "Pinnacle's closing odds (PS): the draw price 0.5 is not a decimal price above 1" {
		t.Fatalf("message %v", err)
	}
	// A price left out ({"home": 2}) is missing, not "0 is not above 1".
	if _, err = (Odds{Home: 2}).Implied(); err == nil || !strings.Contains(err.Error(), "the draw price is missing") {
		t.Fatalf("odds with only a home price: %v", err)
	}
	for o, want := range map[Odds]string{{}: "the pre-match odds", {Bookmaker: "B365"}: "Bet365's pre-match odds (B365)", {Bookmaker: "Zed", Closing: true}: "Zed's closing odds"} {
		if got := o.String(); got != want {
			t.Errorf("%+v: %q, want %q", o, got, want)
		}
	}
}

func TestValidateRejectsWhatIsNotADistribution(t *testing.T) {
	for _, p := range []Probabilities{
		{0.5, 0.5, 0.5},
		{math.NaN(), 0.5, 0.5},
		{-0.1, 0.6, 0.5},
		{math.Inf(1), 0, 0},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v was accepted", p)
		}
	}
	if err := (Probabilities{0.45, 0.27, 0.28}).Validate(); err != nil {
		t.Errorf("a valid forecast was refused: %v", err)
	}
}
