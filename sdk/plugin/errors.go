package plugin

import (
	"errors"
	"fmt"
)

// Kinds of failure the host tells apart. A plugin returns them wrapped with
// its own words (Invalid, NotFound, Unsupported, NotReady, or fmt.Errorf with
// %w); the host sees the same kind, and errors.Is works on both sides of the
// process boundary. Any other error reaches the host as a plain failure with
// its message.
//
// The host tells a caller the message of an Invalid or NotFound error from
// Compute or Predict (it describes the caller's request, so write it for
// them); of the other kinds only what failed, with the message in the
// host's log.
//
// There is deliberately no "unavailable": to the host that means the plugin
// process has died, and it relaunches it.
var (
	// ErrInvalid: the request (or the plugin's settings) is wrong and
	// retrying it unchanged cannot help; the message says what is wrong.
	ErrInvalid = errors.New("invalid")
	// ErrNotFound: something the request names does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnsupported: the plugin does not do this (e.g. a model runtime
	// that cannot train).
	ErrUnsupported = errors.New("unsupported")
	// ErrNotReady: the call needs an earlier one first (e.g. Predict before
	// Load).
	ErrNotReady = errors.New("not ready")
)

// Error is a failure of a known kind in the plugin's own words.
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is reports whether target is the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Invalid returns an ErrInvalid error with a formatted message.
func Invalid(format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns an ErrNotFound error with a formatted message.
func NotFound(format string, args ...any) error {
	return &Error{Kind: ErrNotFound, Message: fmt.Sprintf(format, args...)}
}

// Unsupported returns an ErrUnsupported error with a formatted message.
func Unsupported(format string, args ...any) error {
	return &Error{Kind: ErrUnsupported, Message: fmt.Sprintf(format, args...)}
}

// NotReady returns an ErrNotReady error with a formatted message.
func NotReady(format string, args ...any) error {
	return &Error{Kind: ErrNotReady, Message: fmt.Sprintf(format, args...)}
}
