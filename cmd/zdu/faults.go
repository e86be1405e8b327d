package main

import "github.com/zdu-dev/zdu/engine/journal"

// faultSinks, when set, adds journal sinks that inject faults. Only a
// binary built with -tags zdufaults (the crash tests' own) sets it: see
// faults_zdufaults.go. A release binary has no fault injection at all.
var faultSinks func() []journal.Sink
