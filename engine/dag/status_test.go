package dag

import "testing"

func TestStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{Pending.String(), "pending"},
		{Passed.String(), "passed"},
		{Failed.String(), "failed"},
		{Skipped.String(), "skipped"},
		{Blocked.String(), "blocked"},
		{Status(9).String(), "Status(9)"},
		{NotBlocked.String(), ""},
		{Upstream.String(), "upstream"},
		{Cancelled.String(), "cancelled"},
		{Stopped.String(), "stopped"},
		{Cycle.String(), "cycle"},
		{Reason(-1).String(), "Reason(-1)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
