// Package fault is the host's one vocabulary of errors a client is told
// about. The forecast package and the plugins' typed errors (the sdk's
// plugin.ErrInvalid and the rest) become an *Error of a Kind; the REST API,
// the Open Inference Protocol over HTTP and gRPC, and the asynchronous jobs
// all read it through Of, so one failure answers the same status, code and
// message on every channel.
//
// What a client reads is the Error's Message, never the text of the error
// it was made from: a plugin's own words reach a client only when the plugin
// marked them as meant for the caller (its Invalid and NotFound errors,
// which describe the request); anything else is in the server's log.
package fault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// Kind is what went wrong, as a client must tell it apart. A Kind is an
// error itself, so errors.Is(err, fault.Unavailable) asks an error's kind.
type Kind uint8

const (
	// Internal: the server failed; the message says nothing of why.
	Internal Kind = iota
	// Invalid: the request is malformed (a name too long, a value out of
	// range); sending it again unchanged cannot help.
	Invalid
	// Unprocessable: the request is well formed but asks for what cannot
	// be (a team playing itself, a kick-off before any history).
	Unprocessable
	// NotFound: something the request names does not exist (a team, a
	// competition, or what a plugin did not find).
	NotFound
	// Unsupported: the server, as configured, cannot do what is asked.
	Unsupported
	// Unavailable: a dependency (a plugin process, the store) is down or
	// not ready yet; retry shortly.
	Unavailable
	// Misbehaved: a plugin answered something invalid; none of it is served.
	Misbehaved
	// Canceled: the caller went away before the answer.
	Canceled
)

var kinds = [...]struct {
	name   string
	title  string
	status int
	code   codes.Code
}{
	Internal:      {"internal", "internal error", http.StatusInternalServerError, codes.Internal},
	Invalid:       {"invalid", "invalid input", http.StatusBadRequest, codes.InvalidArgument},
	Unprocessable: {"unprocessable", "invalid fixture", http.StatusUnprocessableEntity, codes.InvalidArgument},
	NotFound:      {"not-found", "not found", http.StatusUnprocessableEntity, codes.NotFound},
	Unsupported:   {"unsupported", "not supported", http.StatusNotImplemented, codes.Unimplemented},
	Unavailable:   {"unavailable", "temporarily unavailable", http.StatusServiceUnavailable, codes.Unavailable},
	Misbehaved:    {"misbehaved", "internal error", http.StatusInternalServerError, codes.Internal},
	Canceled:      {"canceled", "client closed request", StatusClientClosed, codes.Canceled},
}

// StatusClientClosed is the HTTP status recorded for a request whose caller
// hung up before its answer was ready (nginx's 499).
const StatusClientClosed = 499

func (k Kind) valid() Kind {
	if int(k) >= len(kinds) {
		return Internal
	}
	return k
}

// Error is the kind's title, so a Kind can be a target of errors.Is.
func (k Kind) Error() string { return kinds[k.valid()].title }

// Name is the kind's stable name ("not-found"), as jobs store it.
func (k Kind) Name() string { return kinds[k.valid()].name }

// Title is the kind's short human title ("invalid fixture").
func (k Kind) Title() string { return kinds[k.valid()].title }

// HTTPStatus is the kind's HTTP status.
func (k Kind) HTTPStatus() int { return kinds[k.valid()].status }

// GRPCCode is the kind's gRPC status code.
func (k Kind) GRPCCode() codes.Code { return kinds[k.valid()].code }

// KindNamed is the kind of a Name; an unknown name is Internal.
func KindNamed(name string) Kind {
	for k, v := range kinds {
		if v.name == name {
			return Kind(k)
		}
	}
	return Internal
}

// Error is a failure in the words a client reads.
type Error struct {
	Kind Kind
	// Title, when set, is more specific than the kind's ("unknown team").
	Title string
	// Field is the part of a fixture's request at fault ("home_team",
	// "odds.bookmaker"); "" for the fixture (or the request) as a whole.
	Field string
	// Message says what is wrong, for the caller.
	Message string
	// Suggestions are values the caller may have meant.
	Suggestions []string
	// Cause is what the error was made from: for the log, never shown.
	Cause error

	item int // 1 + the index of the fixture of the call it concerns; 0: none
}

// New returns an Error of kind with a formatted message for the caller.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Field returns an Error of kind about one field of a fixture's request.
func Field(kind Kind, field string, format string, args ...any) *Error {
	return &Error{Kind: kind, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error of kind with a message for the caller and cause
// for the log.
func Wrap(kind Kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// Detail is the whole message a client reads: the field, the message, and
// any suggestions.
func (e *Error) Detail() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if len(e.Suggestions) > 0 {
		b.WriteString("; did you mean ")
		for i, s := range e.Suggestions {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(s))
		}
		b.WriteString("?")
	}
	return b.String()
}

// Error is the detail and, for the log, the cause.
func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Detail() + " (" + e.Cause.Error() + ")"
	}
	return e.Detail()
}

// Is reports whether target is the error's kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// Unwrap is the cause.
func (e *Error) Unwrap() error { return e.Cause }

// TitleOrKind is the error's title, or its kind's.
func (e *Error) TitleOrKind() string {
	if e.Title != "" {
		return e.Title
	}
	return e.Kind.Title()
}

// Item is the index of the fixture of a call the error concerns.
func (e *Error) Item() (int, bool) { return e.item - 1, e.item > 0 }

// At returns the error as concerning fixture i of a call.
func (e *Error) At(i int) *Error {
	c := *e
	c.item = i + 1
	return &c
}

// In returns err as concerning fixture i of a call.
func In(i int, err error) error { return Of(err).At(i) }

// Reindex returns err, when it concerns fixture i of a call made of
// fixtures idx of another, as concerning fixture idx[i] of that other.
func Reindex(err error, idx []int) error {
	var e *Error
	if errors.As(err, &e) {
		if i, ok := e.Item(); ok && i < len(idx) {
			return e.At(idx[i])
		}
	}
	return err
}

// AboutRequest reports whether the kind is the request's fault (and
// names a part of it), not the server's.
func (k Kind) AboutRequest() bool { return k == Invalid || k == Unprocessable || k == NotFound }

// Under returns an error about the request with its field under prefix
// ("fixtures[2]" and "home_team" make "fixtures[2].home_team"); any other
// error is returned as it is.
func Under(prefix string, e *Error) *Error {
	if !e.Kind.AboutRequest() {
		return e
	}
	c := *e
	switch {
	case prefix == "":
	case c.Field == "":
		c.Field = prefix
	default:
		c.Field = prefix + "." + c.Field
	}
	return &c
}

// Of is what err tells a client. An *Error (anywhere in the chain) is
// itself; a plugin's typed error is its kind, with the plugin's own words
// only for the kinds meant for the caller; the context's errors are
// Canceled and Unavailable; anything else is Internal, with nothing of its
// text.
func Of(err error) *Error { return FromPlugin("", err) }

// FromPlugin is what a plugin's error tells a client: named is the plugin's
// role ("feature", "model"), for the messages that do not come from it.
func FromPlugin(named string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	who := "the server"
	if named != "" {
		who = "the " + named + " plugin"
	}
	switch {
	case err == nil:
		return &Error{Kind: Internal, Message: "no error"}
	case errors.Is(err, context.Canceled):
		return &Error{Kind: Canceled, Message: "the request was cancelled", Cause: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: Unavailable, Message: who + " did not answer in time; retry shortly", Cause: err}
	case errors.Is(err, plugin.ErrInvalid):
		return &Error{Kind: Unprocessable, Message: pluginWords(err), Cause: err}
	case errors.Is(err, plugin.ErrNotFound):
		return &Error{Kind: NotFound, Message: pluginWords(err), Cause: err}
	case errors.Is(err, plugin.ErrUnsupported):
		return &Error{Kind: Unsupported, Message: who + " does not support this request", Cause: err}
	case errors.Is(err, plugin.ErrNotReady):
		return &Error{Kind: Unavailable, Message: who + " is not ready; retry shortly", Cause: err}
	}
	return &Error{Kind: Internal, Message: "the request failed on the server; it is in the server log", Cause: err}
}

// pluginWords is the message a plugin gave with a typed error.
func pluginWords(err error) string {
	var re *wire.RemoteError
	if errors.As(err, &re) {
		return re.Message
	}
	var pe *plugin.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	return "the request was refused"
}

// ProblemTypePrefix starts every problem's type: one URI per kind of error
// (its title, lowercased, words joined by "-"), so a client can branch on
// the type rather than parse the text, e.g.
// urn:soccerpredict:problem:unknown-team.
const ProblemTypePrefix = "urn:soccerpredict:problem:"

var problemTypes sync.Map // title -> type

// TypeOf is the problem type URI of a title.
func TypeOf(title string) string {
	if t, ok := problemTypes.Load(title); ok {
		return t.(string)
	}
	var b strings.Builder
	b.WriteString(ProblemTypePrefix)
	dash := false
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > len(ProblemTypePrefix) {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		default:
			dash = true
		}
	}
	problemTypes.Store(title, b.String())
	return b.String()
}

// Problem is the part of an RFC 9457 problem detail that an error of a
// kind fills in: what a failed job shows beside its error.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// ProblemOf is the problem of a kind (by Name) with detail.
func ProblemOf(kindName, detail string) Problem {
	k := KindNamed(kindName)
	return Problem{Type: TypeOf(k.Title()), Title: k.Title(), Status: k.HTTPStatus(), Detail: detail}
}
