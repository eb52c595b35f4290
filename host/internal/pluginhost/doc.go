// Package pluginhost launches and supervises plugin processes.
//
// A Plugin is one configured binary. Before every launch the host checks the
// binary's SHA-256 against config (and hands go-plugin a fresh SecureConfig,
// whose hash is stateful), negotiates the API version and configures the
// plugin. Calls go through typed decorators (SourceOf, ...) that apply the
// per-call timeout and notice a dead process: the next call relaunches it,
// after an exponential backoff when launches keep failing. Plugins die with
// the host: the kernel kills them when the host exits (Pdeathsig), and the
// sdk makes them exit when their parent is gone.
//
// Start with New and Host.Plugin.
package pluginhost
