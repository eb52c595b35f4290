// Package sdk is the only module a SoccerPredict plugin author imports.
//
// Start with the package of the plugin kind you are writing:
//
//   - source: a data provider that yields matches (results and fixtures);
//   - features: an online state machine that turns history into feature rows;
//   - model: a runtime that turns feature rows into home/draw/away probabilities.
//
// Each kind is one interface, its value types and a Factory; a plugin's main
// is one call of the kind's function in serve. Every factory gets a
// plugin.Env: the plugin's settings from host config, a logger that reaches
// the host's log, and its name and version; plugin also has the errors the
// host tells apart (plugin.Invalid and the rest). The conformance suites
// sourcetest, featuretest and modeltest check a plugin both directly and
// through the real gRPC shim. Domain values and helpers shared by every kind
// (MatchID, ResultOf) live in soccer.
//
// Package wire is the host's side of the protocol (handshake, version
// negotiation, gRPC clients); authors do not need it.
package sdk
