// Package sdk is the only module a SoccerPredict plugin author imports.
//
// Start with the package of the plugin kind you are writing:
//
//   - source: a data provider that yields matches (results and fixtures);
//   - features: an online state machine that turns history into feature rows;
//   - model: a runtime that turns feature rows into home/draw/away probabilities.
//
// Each kind is one interface, value request/response types and Serve. The
// conformance suites sourcetest, featuretest and modeltest check a plugin both
// directly and through the real gRPC shim. Domain values shared by every kind
// live in soccer; the wire handshake lives in handshake.
package sdk
