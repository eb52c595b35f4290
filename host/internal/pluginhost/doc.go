// Package pluginhost launches and supervises plugin processes.
//
// A Plugin is one configured binary. Before every launch the host checks the
// binary's SHA-256 against config (and hands go-plugin a fresh SecureConfig,
// whose hash is stateful), negotiates the API version and configures the
// plugin. Calls go through typed decorators (SourceOf, ...) that apply the
// call's timeout (short for calls on a request's path, long for bulk ones)
// and notice a dead process: the next call relaunches it, after an
// exponential backoff when launches keep failing. A plugin that lets its
// timeout pass is killed and replaced. Launches run in a goroutine outside
// the plugin's lock; callers wait for one with their own deadline, and fail
// at once during a backoff. Plugins die with
// the host: the kernel kills them when the host exits (Pdeathsig), and the
// sdk makes them exit when their parent is gone.
//
// Start with New and Host.Plugin.
package pluginhost
