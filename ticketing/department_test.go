package ticketing

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// office is a department open Monday to Friday 08:00-12:00 and 13:00-17:00,
// Saturday 09:00-24:00 and Sunday 00:00-02:00 in New York, closed on
// Christmas 2026 and on the afternoon of 2026-11-25.
func office(t testing.TB) *Department {
	t.Helper()
	d := &Department{
		ID:       "support",
		TimeZone: "America/New_York",
		Schedule: map[string][]string{
			"monday": {"08:00-12:00", "13:00-17:00"}, "tuesday": {"08:00-12:00", "13:00-17:00"},
			"wednesday": {"13:00-17:00", "08:00-12:00"}, "thursday": {"08:00-12:00", "13:00-17:00"},
			"friday": {"08:00-12:00", "13:00-17:00"}, "saturday": {"09:00-24:00"}, "sunday": {"00:00-02:00"},
		},
		Holidays: []Closure{{Name: "Christmas", From: "2026-12-24", To: "2026-12-25"}},
		Closures: []Closure{{Name: "team day", From: "2026-11-25T12:00", To: "2026-11-25T17:00"}},
		Agents:   []string{"ann", "bob"},
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestR4_OpenAtEvaluatesTheWeeklyScheduleInTheZone(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	d := office(t)
	at := func(y int, m time.Month, day, h, min, s int) time.Time {
		return time.Date(y, m, day, h, min, s, 0, ny).UTC() // the core gets UTC
	}
	cases := []struct {
		name string
		at   time.Time
		open bool
	}{
		{"monday before opening", at(2026, 11, 23, 7, 59, 59), false},
		{"monday at opening", at(2026, 11, 23, 8, 0, 0), true},
		{"lunch break starts (end exclusive)", at(2026, 11, 23, 12, 0, 0), false},
		{"last second of lunch", at(2026, 11, 23, 12, 59, 59), false},
		{"second interval", at(2026, 11, 23, 13, 0, 0), true},
		{"last open second", at(2026, 11, 23, 16, 59, 59), true},
		{"closing time", at(2026, 11, 23, 17, 0, 0), false},
		{"intervals listed out of order", at(2026, 11, 25, 9, 0, 0), true},
		{"one-off closure afternoon", at(2026, 11, 25, 13, 30, 0), false},
		{"saturday 23:59:59 (open until 24:00)", at(2026, 11, 28, 23, 59, 59), true},
		{"sunday 00:00:00 (next day's schedule)", at(2026, 11, 29, 0, 0, 0), true},
		{"sunday 01:59:59", at(2026, 11, 29, 1, 59, 59), true},
		{"sunday 02:00:00", at(2026, 11, 29, 2, 0, 0), false},
		{"friday 23:59:59 closed", at(2026, 11, 27, 23, 59, 59), false},
		{"holiday first day", at(2026, 12, 24, 10, 0, 0), false},
		{"holiday last day, last second", at(2026, 12, 25, 16, 59, 59), false},
		{"day after holiday", at(2026, 12, 28, 10, 0, 0), true},
		// DST: New York springs forward on 2026-03-08 (02:00 → 03:00) and
		// falls back on 2026-11-01 (02:00 → 01:00). Both are Sundays,
		// open 00:00-02:00 local.
		{"spring forward, 01:59:59 EST", at(2026, 3, 8, 1, 59, 59), true},
		{"spring forward, 03:00 EDT", at(2026, 3, 8, 3, 0, 0), false},
		{"spring forward monday 08:00 EDT", at(2026, 3, 9, 8, 0, 0), true},
		{"spring forward monday 07:59 EDT (12:59 UTC)", time.Date(2026, 3, 9, 11, 59, 0, 0, time.UTC), false},
		{"fall back, first 01:30 (EDT)", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), true},
		{"fall back, second 01:30 (EST)", time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), true},
		{"fall back, 02:00 EST", time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC), false},
		{"after fall back monday 08:00 EST is 13:00 UTC", time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC), true},
		{"after fall back 12:59 UTC is 07:59 EST", time.Date(2026, 11, 2, 12, 59, 59, 0, time.UTC), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.OpenAt(tc.at); got != tc.open {
				t.Errorf("%s (%s): open = %v, want %v", tc.name, tc.at.In(ny).Format(time.RFC3339), got, tc.open)
			}
		})
	}
}

func TestR4_UnvalidatedDepartmentIsNeverOpen(t *testing.T) {
	t.Parallel()
	d := &Department{ID: "x", TimeZone: "UTC", Schedule: map[string][]string{"monday": {"00:00-24:00"}}}
	if d.OpenAt(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)) {
		t.Fatal("open before Validate")
	}
}

func TestDepartmentValidationNamesTheField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		dep  Department
		want string
	}{
		{"unknown zone", Department{ID: "a", TimeZone: "Mars/Olympus"}, `time_zone: unknown zone "Mars/Olympus"`},
		{"missing zone", Department{ID: "a"}, "time_zone: required"},
		{"bad id", Department{ID: "Sales Team", TimeZone: "UTC"}, "id: "},
		{"inverted interval", Department{ID: "a", TimeZone: "UTC", Schedule: map[string][]string{"monday": {"17:00-09:00"}}}, "schedule.monday[0]: \"17:00-09:00\" ends before it starts"},
		{"empty interval", Department{ID: "a", TimeZone: "UTC", Schedule: map[string][]string{"monday": {"09:00-09:00"}}}, "schedule.monday[0]"},
		{"overlap", Department{ID: "a", TimeZone: "UTC", Schedule: map[string][]string{"tuesday": {"09:00-12:00", "11:00-13:00"}}}, "schedule.tuesday: intervals 09:00-12:00 and 11:00-13:00 overlap"},
		{"bad clock", Department{ID: "a", TimeZone: "UTC", Schedule: map[string][]string{"monday": {"9-17"}}}, "schedule.monday[0]: \"9-17\" is not HH:MM-HH:MM"},
		{"25 o'clock", Department{ID: "a", TimeZone: "UTC", Schedule: map[string][]string{"monday": {"09:00-25:00"}}}, "schedule.monday[0]"},
		{"unknown day", Department{ID: "a", TimeZone: "UTC", Schedule: map[string][]string{"funday": {"09:00-17:00"}}}, "schedule.funday: unknown day"},
		{"unknown text language", Department{ID: "a", TimeZone: "UTC", Texts: map[string]Texts{"english!": {}}}, "texts.english!: unknown language"},
		{"unknown default language", Department{ID: "a", TimeZone: "UTC", DefaultLanguage: "xx-yy-zz"}, "default_language: unknown language"},
		{"default language without texts", Department{ID: "a", TimeZone: "UTC", DefaultLanguage: "fr", Texts: map[string]Texts{"en": {}}}, `default_language: no texts in "fr"`},
		{"bad holiday", Department{ID: "a", TimeZone: "UTC", Holidays: []Closure{{From: "25/12/2026"}}}, "holidays[0]: from:"},
		{"inverted closure", Department{ID: "a", TimeZone: "UTC", Closures: []Closure{{From: "2026-12-25", To: "2026-12-24"}}}, "closures[0]: to"},
		{"mixed closure", Department{ID: "a", TimeZone: "UTC", Closures: []Closure{{From: "2026-12-25", To: "2026-12-25T10:00"}}}, "closures[0]: from"},
		{"duplicate agent", Department{ID: "a", TimeZone: "UTC", Agents: []string{"ann", "ann"}}, `agents[1]: "ann" listed twice`},
		{"keyword with space", Department{ID: "a", TimeZone: "UTC", Routing: Routing{Keywords: []string{"two words"}}}, "routing.keywords[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.dep.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidDepartment) {
				t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
			}
		})
	}
	ok := Department{ID: "sales", TimeZone: "Africa/Johannesburg", DefaultLanguage: "PT-br",
		Texts: map[string]Texts{"pt_BR": {OutOfHours: "Fechado"}, "en": {}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if ok.DefaultLanguage != "pt_BR" {
		t.Fatalf("default language not normalized: %q", ok.DefaultLanguage)
	}
}

func TestR3_RoutingByNumberThenKeywordThenDefault(t *testing.T) {
	t.Parallel()
	deps := []Department{
		{ID: "sales", TimeZone: "UTC", Routing: Routing{Numbers: []string{"+27600000001"}, Keywords: []string{"buy"}}},
		{ID: "billing", TimeZone: "UTC", Routing: Routing{Keywords: []string{"Invoice", "refund"}}},
		{ID: "general", TimeZone: "UTC", Routing: Routing{Default: true}},
	}
	dir, err := NewDirectory(deps, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ to, text, want string }{
		{"+27600000001", "my invoice is wrong", "sales"}, // the number wins over the keyword
		{"+27600000009", "My INVOICE, please!", "billing"},
		{"", "refund?", "billing"},
		{"", "I'd like to buy", "sales"},
		{"", "buying", "general"}, // whole words only
		{"", "hello", "general"},
	}
	for _, tc := range cases {
		t.Run(tc.text+" to "+tc.to, func(t *testing.T) {
			if got := dir.Route(tc.to, tc.text); got == nil || got.ID != tc.want {
				t.Errorf("Route(%q, %q) = %v, want %s", tc.to, tc.text, got, tc.want)
			}
		})
	}
	var none *Directory
	if none.Route("+1", "x") != nil {
		t.Fatal("nil directory routed")
	}
	if _, err := NewDirectory([]Department{
		{ID: "a", TimeZone: "UTC", Routing: Routing{Default: true, Numbers: []string{"+1"}, Keywords: []string{"x"}}},
		{ID: "b", TimeZone: "UTC", Routing: Routing{Default: true, Numbers: []string{"+1"}, Keywords: []string{"X"}}},
		{ID: "a", TimeZone: "UTC"},
	}, nil); err == nil || !strings.Contains(err.Error(), "routing.default") || !strings.Contains(err.Error(), "routing.numbers[0]") ||
		!strings.Contains(err.Error(), "routing.keywords[0]") || !strings.Contains(err.Error(), "id: defined twice") {
		t.Fatalf("conflicting set: err = %v", err)
	}
}

func TestR4_ReachableNeedsHoursAndAFreshOnlineAgent(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	open := time.Date(2026, 11, 23, 10, 0, 0, 0, ny).UTC()
	closed := time.Date(2026, 11, 23, 18, 0, 0, 0, ny).UTC()
	ttl := time.Minute
	cases := []struct {
		name     string
		now      time.Time
		presence []Presence
		want     bool
	}{
		{"open, ann online", open, []Presence{{AgentID: "ann", Status: PresenceOnline, HeartbeatAt: open.Add(-time.Minute)}}, true},
		{"open, heartbeat one second too old", open, []Presence{{AgentID: "ann", Status: PresenceOnline, HeartbeatAt: open.Add(-time.Minute - time.Second)}}, false},
		{"open, ann away", open, []Presence{{AgentID: "ann", Status: PresenceAway, HeartbeatAt: open}}, false},
		{"open, online agent of another department", open, []Presence{{AgentID: "zed", Status: PresenceOnline, HeartbeatAt: open}}, false},
		{"open, nobody", open, nil, false},
		{"closed, ann online", closed, []Presence{{AgentID: "ann", Status: PresenceOnline, HeartbeatAt: closed}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := NewDirectory([]Department{*office(t)}, tc.presence)
			if err != nil {
				t.Fatal(err)
			}
			if got := dir.Reachable(dir.Get("support"), tc.now, ttl); got != tc.want {
				t.Errorf("%s: reachable = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

func TestR6_TextsFallBackToDefaultLanguageThenBuiltIn(t *testing.T) {
	t.Parallel()
	d := &Department{ID: "a", TimeZone: "UTC", DefaultLanguage: "fr", Texts: map[string]Texts{
		"fr": {OutOfHours: "Fermé"}, "de": {OutOfHours: "Geschlossen", ConsentDeclined: "Schade"},
	}}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		kind           TextKind
		lang, want, in string
	}{
		{TextOutOfHours, "de", "Geschlossen", "de"},
		{TextOutOfHours, "es", "Fermé", "fr"},
		{TextConsentDeclined, "de", "Schade", "de"},
		{TextLeaveMessagePrompt, "de", DefaultTexts.LeaveMessagePrompt, "en"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s %s", tc.kind, tc.lang), func(t *testing.T) {
			if got, lang := d.Text(tc.kind, tc.lang); got != tc.want || lang != tc.in {
				t.Errorf("Text(%s, %s) = %q/%s, want %q/%s", tc.kind, tc.lang, got, lang, tc.want, tc.in)
			}
		})
	}
	want := `Would you like to leave a message for the agent? Please respond with YES or NO. If you select Yes, after your last message, please send "//end" without the quotes to end the chat.`
	if DefaultTexts.LeaveMessagePrompt != want {
		t.Fatal("built-in prompt differs from R6 (docs/rules.md)")
	}
}
