// Package release holds the tests of the release build (.release/build.sh)
// and of the Debian package it makes: apart from cmd/zdu's, so that their
// minutes of building count against a test timeout of their own. It has
// no code.
package release
