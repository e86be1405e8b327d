package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The secrets of TestSecretsNeverLeak, one per channel. Each holds
// characters that make its quoted and encoded forms differ from it.
const (
	secToken   = `Tok3n-"q" s/p+a&c=e`     // --set, in a command, stdin and a wait-http URL
	secEnv     = `EnvS3cret-'single'%41`   // env:
	secPin     = "BadPin-S3cret-99"        // a bad value for a secret int
	secListA   = "ListS3cret-aaaa<>"       // an element of a secret list
	secMap     = "MapS3cret-bbbb/?#"       // a value in a map in a secret list
	secResult  = "Res1lt-S3cret-cccc+/="   // printed by a step marked secret
	secFail    = "FailS3cret-dddd&amp;é"   // printed by a failing step
	secProbePw = "ProbeP4ss-eeee"          // the probe URL's password
	secProbeQ  = "ProbeT0ken-ffff"         // the probe URL's token= value
	secLine1   = "KeyL1ne-gggg-0123456789" // lines of a multi-line secret (--set-file)
	secLine2   = "KeyL2ne-hhhh-9876543210"
	secURL     = "UrlS3cret-iiii%2Fjj+kk~ll" // in a wait-http URL (a URL's value must be URL-safe: no space, no '#')
)

const secretsPlan = `apiVersion: zdu/v1
name: secrets
params:
  token: {type: string, secret: true}
  envtok: {type: string, secret: true, env: ZDU_TEST_ENV_SECRET}
  pin: {type: int, secret: true, default: 123456}
  key: {type: string, secret: true}
  creds: {type: list, secret: true, default: ["` + secListA + `", {pass: "` + secMap + `"}]}
  port: {type: int}
  failtok: {type: string, secret: true}
  resfile: {type: string}
  urltok: {type: string, secret: true}
phases:
  - id: leak
    targets: all
    steps:
      - id: command
        type: ssh-exec
        with: {command: "echo ${{ params.token }} ${{ params.envtok }} ${{ params.creds[0] }} ${{ params.creds[1].pass }}; echo ${{ params.key }}; echo pin ${{ params.pin }}"}
      - id: stdin
        type: ssh-exec
        with: {command: "cat; echo", stdin: "${{ params.token }} ${{ params.key }}"}
      - id: fetch
        type: ssh-exec
        secret: true
        register: fetched
        with: {command: "cat ${{ params.resfile }}"}
      - id: use
        type: ssh-exec
        with: {command: "echo got ${{ results.fetched.stdout }}; echo ${{ results.fetched.stdout }} | base64"}
      - id: url
        type: wait-http
        continueOnError: true
        with:
          url: "http://127.0.0.1:${{ params.port }}/health?token=${{ params.urltok }}&r=${{ results.fetched.stdout }}"
          timeout: 1s
          attemptTimeout: 200ms
          interval: 100ms
      - id: fail
        type: ssh-exec
        with: {command: "echo ${{ params.failtok }} >&2; echo ${{ params.token }} ${{ params.creds[1].pass }} >&2; exit 3"}
`

// secretForms are the ways s could appear, computed here without the
// masker: raw, shell-quoted, Go-quoted, JSON, URL (query and path) and
// base64 (all four alphabets).
func secretForms(s string) map[string]string {
	q := strconv.Quote(s)
	j, _ := json.Marshal(s)
	out := map[string]string{
		"raw":   s,
		"shell": "'" + strings.ReplaceAll(s, "'", `'\''`) + "'",
		"%q":    q[1 : len(q)-1],
		"json":  string(j[1 : len(j)-1]),
		"query": url.QueryEscape(s),
		"path":  url.PathEscape(s),
	}
	for name, e := range map[string]*base64.Encoding{"base64": base64.StdEncoding, "base64url": base64.URLEncoding,
		"base64raw": base64.RawStdEncoding, "base64rawurl": base64.RawURLEncoding} {
		out[name] = e.EncodeToString([]byte(s))
	}
	// `echo X | base64` encodes X with its newline.
	out["base64+nl"] = base64.StdEncoding.EncodeToString([]byte(s + "\n"))
	return out
}

// leaks lists every form of every secret found in text.
func leaks(text string) []string {
	var out []string
	for _, s := range []string{secURL, secToken, secEnv, secPin, secListA, secMap, secResult, secFail, secProbePw, secProbeQ, secLine1, secLine2} {
		for name, f := range secretForms(s) {
			if strings.Contains(text, f) {
				out = append(out, fmt.Sprintf("%s form of %q", name, s))
			}
		}
	}
	return out
}

// TestSecretsNeverLeak plants a secret in every channel — a command, stdin,
// a wait-http URL that fails, a multi-line value from --set-file (each
// line), a value from env:, a list element and a map value, the output of
// a step marked secret and its use, a failing step's stderr, a bad value,
// the probe URL — and finds none of their forms in any file of the run
// directory, in stdout or stderr, or in zdu plan, graph and report.
func TestSecretsNeverLeak(t *testing.T) {
	dir := t.TempDir()
	plan, inv := filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "inv.yaml")
	keyFile, resFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "result")
	files := map[string]string{
		plan:    secretsPlan,
		inv:     "apiVersion: zdu/v1\nkind: Inventory\ndefaults: {transport: local}\nnodes: [{name: a}]\n",
		resFile: secResult + "\n",
		keyFile: "-----BEGIN TEST KEY-----\n" + secLine1 + "\n" + secLine2 + "\n-----END TEST KEY-----\n",
	}
	for p, text := range files {
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A closed port: the wait-http fails with Go's error, which quotes the URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// The probe's target.
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })}
	go srv.Serve(pl)
	t.Cleanup(func() { srv.Close() })
	probeURL := "http://probe:" + secProbePw + "@" + pl.Addr().String() + "/?token=" + secProbeQ + "&page=1"

	env := []string{"ZDU_TEST_ENV_SECRET=" + secEnv}
	sets := []string{"--set", "token=" + secToken, "--set", "failtok=" + secFail, "--set", "urltok=" + secURL, "--set", "resfile=" + resFile, "--set-file", "key=" + keyFile, "--set", "port=" + strconv.Itoa(closedPort)}
	runDir := filepath.Join(dir, "run")
	var outputs []string
	zdu := func(wantCode int, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, zduBinary(t), args...)
		cmd.Env = append(os.Environ(), env...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		_ = cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != wantCode {
			t.Errorf("zdu %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args[0], code, wantCode, tail(out.String(), 2000), tail(errb.String(), 2000))
		}
		outputs = append(outputs, fmt.Sprintf("zdu %s stdout", args[0]), out.String(), fmt.Sprintf("zdu %s stderr", args[0]), errb.String())
	}
	zdu(0, append([]string{"plan", plan, "-i", inv}, sets...)...)
	zdu(0, append([]string{"graph", plan, "-i", inv}, sets...)...)
	zdu(2, append([]string{"plan", plan, "-i", inv, "--set", "pin=" + secPin}, sets...)...)
	zdu(2, append([]string{"validate", plan, "-i", inv, "--set", "pin=" + secPin}, sets...)...)
	zdu(1, append([]string{"run", plan, "-i", inv, "--run-dir", runDir, "--log-format", "json", "--report",
		"--probe", probeURL, "--probe-rate", "20"}, sets...)...)
	// The report, written into the run directory (searched below) and to
	// a file of its own.
	reportFile := filepath.Join(dir, "report.html")
	zdu(0, "report", runDir, "-o", reportFile)
	if t.Failed() {
		return
	}
	if b, err := os.ReadFile(reportFile); err != nil {
		t.Errorf("no report: %v", err)
	} else {
		outputs = append(outputs, "zdu report's file", string(b))
	}

	found := 0
	for i := 0; i < len(outputs); i += 2 {
		for _, l := range leaks(outputs[i+1]) {
			t.Errorf("%s shows the %s", outputs[i], l)
			found++
		}
	}
	// Every file of the run directory.
	files2 := 0
	err = filepath.WalkDir(runDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files2++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		text := string(b)
		if d.Name() == "plan.yaml" {
			// The run's copy of the plan file is the file as written: a
			// secret list's default is in it as in the original (the
			// security page says to give secrets with --set-file or env:).
			text = strings.NewReplacer(secListA, "", secMap, "").Replace(text)
		}
		for _, l := range leaks(text) {
			t.Errorf("%s shows the %s", p, l)
			found++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The secrets were there to be found: the steps ran with them (the
	// node log holds their masks) and the run directory is complete.
	logb, _ := os.ReadFile(filepath.Join(runDir, "nodes", "a.log"))
	if n := strings.Count(string(logb), "****"); n < 8 {
		t.Errorf("the node log shows %d masks, want the secrets of every step masked:\n%s", n, logb)
	}
	if !strings.Contains(string(logb), "got ****") {
		t.Errorf("the secret step's result is not masked where used:\n%s", logb)
	}
	// The record has the params as resolved, secret ones masked, and the
	// summary each step's times.
	var rec struct {
		Params map[string]any
		Status string
		Ended  *time.Time
	}
	if b, err := os.ReadFile(filepath.Join(runDir, "run.json")); err != nil || json.Unmarshal(b, &rec) != nil {
		t.Errorf("run.json: %v", err)
	}
	if rec.Params["token"] != "****" || rec.Params["port"] != float64(closedPort) || rec.Ended == nil || rec.Status == "" {
		t.Errorf("run.json params %v, status %q, ended %v", rec.Params, rec.Status, rec.Ended)
	}
	var sum struct {
		Nodes []struct {
			Steps []struct {
				Step       string
				DurationMs *int64
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(runDir, "summary.json")); err != nil || json.Unmarshal(b, &sum) != nil || len(sum.Nodes) != 1 {
		t.Errorf("summary.json: %v", err)
	} else if steps := sum.Nodes[0].Steps; len(steps) != 6 || steps[0].Step != "command" || steps[0].DurationMs == nil {
		t.Errorf("summary.json steps: %+v", steps)
	}
	if files2 < 5 {
		t.Errorf("the run directory holds %d files", files2)
	}
	t.Logf("%d outputs and %d run files searched for %d forms each of 12 secrets: %d found", len(outputs)/2, files2, len(secretForms("x")), found)
}
