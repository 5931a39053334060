package templates_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/templates"
)

func TestR29_Transition(t *testing.T) {
	t.Parallel()
	const (
		draft    = templates.StatusDraft
		approved = templates.StatusApproved
		rejected = templates.StatusRejected
		disabled = templates.StatusDisabled
	)
	legal := map[[2]templates.Status]bool{
		{draft, approved}:    true,
		{draft, rejected}:    true,
		{approved, disabled}: true,
	}
	all := []templates.Status{draft, approved, rejected, disabled, "", "pending"}
	for _, from := range all {
		for _, to := range all {
			t.Run(fmt.Sprintf("%q to %q", from, to), func(t *testing.T) {
				t.Parallel()
				err := templates.Transition(from, to)
				if legal[[2]templates.Status{from, to}] {
					if err != nil {
						t.Fatalf("Transition() = %v, want nil", err)
					}
					return
				}
				var te *templates.TransitionError
				if !errors.Is(err, templates.ErrIllegalTransition) || !errors.As(err, &te) {
					t.Fatalf("Transition() = %v, want *TransitionError", err)
				}
				if te.From != from || te.To != to {
					t.Fatalf("TransitionError = %+v", te)
				}
			})
		}
	}
}

func TestTransitionErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from, to templates.Status
		want     string
	}{
		{templates.StatusDraft, templates.StatusDisabled, `from "draft" to "disabled": allowed approved, rejected`},
		{templates.StatusApproved, templates.StatusDraft, `allowed disabled`},
		{templates.StatusDisabled, templates.StatusApproved, `no change allowed from "disabled"`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s to %s", tt.from, tt.to), func(t *testing.T) {
			err := templates.Transition(tt.from, tt.to)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Transition(%s, %s) = %v, want %q", tt.from, tt.to, err, tt.want)
			}
		})
	}
}

func TestSetStatus(t *testing.T) {
	t.Parallel()
	tm := valid()
	tm.Status = templates.StatusDraft
	if err := tm.SetStatus(templates.StatusApproved); err != nil || tm.Status != templates.StatusApproved {
		t.Fatalf("SetStatus(approved) = %v, status %s", err, tm.Status)
	}
	if err := tm.SetStatus(templates.StatusRejected); !errors.Is(err, templates.ErrIllegalTransition) || tm.Status != templates.StatusApproved {
		t.Fatalf("SetStatus(rejected) from approved = %v, status %s; want refusal, status unchanged", err, tm.Status)
	}
	if err := tm.SetStatus(templates.StatusDisabled); err != nil || tm.Status != templates.StatusDisabled {
		t.Fatalf("SetStatus(disabled) = %v, status %s", err, tm.Status)
	}
}

func TestR29_Sendable(t *testing.T) {
	t.Parallel()
	for _, st := range []templates.Status{templates.StatusDraft, templates.StatusRejected, templates.StatusDisabled, ""} {
		t.Run(string(st), func(t *testing.T) {
			t.Parallel()
			tm := valid()
			tm.Status = st
			err := templates.Sendable(tm)
			var na *templates.NotApprovedError
			if !errors.Is(err, templates.ErrNotApproved) || !errors.As(err, &na) || na.Status != st {
				t.Fatalf("Sendable() = %v, want *NotApprovedError with status %q", err, st)
			}
			if !strings.Contains(err.Error(), "order_shipped (en) is "+string(st)) {
				t.Fatalf("Sendable() message %q does not say the status", err)
			}
		})
	}
	if err := templates.Sendable(valid()); err != nil {
		t.Fatalf("Sendable(approved) = %v", err)
	}
	if err := templates.Sendable(nil); !errors.Is(err, templates.ErrNotApproved) {
		t.Fatalf("Sendable(nil) = %v", err)
	}
}
