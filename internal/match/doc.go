// Package match finds the same real-world thing in two systems (or twice in
// one). It knows nothing of the engine or the store: it compares Records.
package match
