package rundir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDigest: a secret's digest tells the value again from any other, and
// run.json holds neither the value nor an unsalted hash of it.
func TestDigest(t *testing.T) {
	d := NewDigest("s3cret-pass")
	if !d.Matches("s3cret-pass") {
		t.Fatal("the value digested does not match")
	}
	for _, other := range []string{"", "s3cret-pas", "s3cret-pass ", "S3cret-pass"} {
		if d.Matches(other) {
			t.Errorf("%q matches the digest of s3cret-pass", other)
		}
	}
	if e := NewDigest("s3cret-pass"); e.Sum == d.Sum || e.Salt == d.Salt {
		t.Error("two digests of one value are alike: the salt is not fresh")
	}
	bad := d
	bad.Iterations = 1 << 30
	if bad.Matches("s3cret-pass") {
		t.Error("a record asking for a billion iterations is honoured")
	}
	dir := t.TempDir()
	rd := &Dir{Path: dir}
	rec := Record{ID: "r", Sets: []string{"version=2"}, Secrets: map[string]Digest{"password": d}}
	if err := rd.WriteRecord(rec, []byte("plan"), []byte("inv")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, RecordFile))
	if strings.Contains(string(b), "s3cret") {
		t.Errorf("run.json holds the secret:\n%s", b)
	}
	got, plan, inv, err := ReadRecord(dir)
	if err != nil || string(plan) != "plan" || string(inv) != "inv" || !got.Secrets["password"].Matches("s3cret-pass") {
		t.Fatalf("read back: %+v %q %q %v", got, plan, inv, err)
	}
	os.WriteFile(filepath.Join(dir, PlanCopy), []byte("plan, edited"), 0o600)
	if _, _, _, err := ReadRecord(dir); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Errorf("an edited copy of the plan: %v", err)
	}
}
