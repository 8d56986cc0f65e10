// Package test holds end-to-end tests: they build the replfs command,
// start it as a real process and talk to it with real clients.
package test
