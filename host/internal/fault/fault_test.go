package fault

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// Each sdk kind, returned in-process or across the gRPC boundary, is one
// kind here; only the kinds about the request keep the plugin's words.
func TestPluginKinds(t *testing.T) {
	for _, c := range []struct {
		local  error
		code   codes.Code
		kind   Kind
		status int
		grpc   codes.Code
		words  bool
	}{
		{plugin.Invalid("bad team"), codes.InvalidArgument, Unprocessable, 422, codes.InvalidArgument, true},
		{plugin.NotFound("bad team"), codes.NotFound, NotFound, 422, codes.NotFound, true},
		{plugin.Unsupported("bad team"), codes.Unimplemented, Unsupported, 501, codes.Unimplemented, false},
		{plugin.NotReady("bad team"), codes.FailedPrecondition, Unavailable, 503, codes.Unavailable, false},
		{errors.New("bad team"), codes.Unknown, Internal, 500, codes.Internal, false},
	} {
		remote := fmt.Errorf("model plugin: %w", &wire.RemoteError{Code: c.code, Message: "bad team"})
		for _, err := range []error{c.local, remote} {
			e := FromPlugin("model", err)
			if e.Kind != c.kind || e.Kind.HTTPStatus() != c.status || e.Kind.GRPCCode() != c.grpc || (e.Message == "bad team") != c.words {
				t.Errorf("%v: kind %s (%d, %s) %q", err, e.Kind.Name(), e.Kind.HTTPStatus(), e.Kind.GRPCCode(), e.Message)
			}
			if !errors.Is(e, c.kind) || !errors.Is(e, err) {
				t.Errorf("%v: errors.Is does not find its kind or its cause", err)
			}
		}
	}
	if e := Of(context.Canceled); e.Kind != Canceled || e.Kind.HTTPStatus() != StatusClientClosed {
		t.Errorf("cancelled: %+v", e)
	}
}

// Fields and items compose into the path of the request's part at fault;
// errors that are not the request's keep no field.
func TestFieldsAndItems(t *testing.T) {
	e := Field(Unprocessable, "home_team", "unknown team %q", "Arsenl")
	e.Suggestions = []string{"Arsenal"}
	if got := Under("fixtures[2]", e).Detail(); got != `fixtures[2].home_team: unknown team "Arsenl"; did you mean "Arsenal"?` {
		t.Errorf("detail %q", got)
	}
	if got := Under("fixtures[2]", New(Unprocessable, "refused")).Field; got != "fixtures[2]" {
		t.Errorf("field %q", got)
	}
	if got := Under("fixtures[2]", New(Unavailable, "down")).Field; got != "" {
		t.Errorf("an outage names the field %q", got)
	}
	moved := Reindex(In(1, New(NotFound, "x")), []int{4, 7})
	if i, ok := Of(moved).Item(); !ok || i != 7 {
		t.Errorf("reindexed item %d %v, want 7", i, ok)
	}
	if err := Reindex(errors.New("plain"), []int{3}); err.Error() != "plain" {
		t.Errorf("a plain error changed: %v", err)
	}
	w := Wrap(Internal, errors.New("/etc/secret"), "failed")
	if w.Detail() != "failed" || w.Error() == w.Detail() {
		t.Errorf("detail %q, error %q: the cause belongs in the log only", w.Detail(), w.Error())
	}
}

func TestKindNamesAndTypes(t *testing.T) {
	for k := Internal; k <= Canceled; k++ {
		if KindNamed(k.Name()) != k {
			t.Errorf("%s does not round-trip", k.Name())
		}
	}
	if KindNamed("") != Internal || KindNamed("nonsense") != Internal {
		t.Error("an unknown kind name is not Internal")
	}
	if p := ProblemOf("not-found", "x"); p.Status != 422 || p.Type != ProblemTypePrefix+"not-found" || p.Detail != "x" {
		t.Errorf("problem %+v", p)
	}
	if TypeOf("Rate limit exceeded!") != ProblemTypePrefix+"rate-limit-exceeded" {
		t.Error(TypeOf("Rate limit exceeded!"))
	}
}
