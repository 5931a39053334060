package ticketing

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/templates"
)

// Department is a queue of agents (docs/rules.md) as ops declare it: where its
// conversations come from, when it is open, who works in it and what the
// auto-responder says. The JSON field names are the YAML/HTTP contract
// (docs/rules.md); sigs.k8s.io/yaml reads the same tags.
//
// Call Validate (or NewDirectory) before using a department: it checks every
// field and prepares the schedule that OpenAt evaluates.
type Department struct {
	// ID is the department's stable key: lowercase letters, digits, '-' and '_'.
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// TimeZone is an IANA zone ("Africa/Johannesburg"); the schedule,
	// holidays and closures are wall-clock times in it.
	TimeZone string `json:"time_zone"`
	// Schedule maps a weekday ("monday" … "sunday") to its opening
	// intervals, "HH:MM-HH:MM", end exclusive, "24:00" allowed as an end.
	// Intervals of one day must not overlap; a day that is not listed is
	// closed. Overnight hours are written as two intervals on two days.
	Schedule map[string][]string `json:"schedule,omitempty"`
	// Holidays and Closures are dates or ranges when the department is
	// closed whatever the schedule. They differ only in intent (recurring
	// public holidays versus one-off closures); both are listed per year.
	Holidays []Closure `json:"holidays,omitempty"`
	Closures []Closure `json:"closures,omitempty"`
	// Agents are the ids of the agents working in the department.
	Agents []string `json:"agents,omitempty"`
	// Routing says which new conversations land in this department (R3).
	Routing Routing `json:"routing,omitempty"`
	// DefaultLanguage is the language of the texts used when the contact's
	// language has none; "en" when empty.
	DefaultLanguage string `json:"default_language,omitempty"`
	// Texts are the auto-responder texts per language; a missing text falls
	// back to the default language's, then to chatgate's built-in English.
	Texts map[string]Texts `json:"texts,omitempty"`
	// DeskPolicy are the department's desk rules (R36): who may transfer
	// what, whether supervisors write to contacts, whether agents join
	// their colleagues' conversations. Unset fields take the defaults.
	DeskPolicy DeskPolicy `json:"desk_policy,omitzero"`
	// LanguagesByPrefix maps number prefixes ("+351") to the language of
	// contacts whose address starts with them, the longest prefix winning
	// (R34). Used when neither a desk nor the channel set the language.
	LanguagesByPrefix map[string]string `json:"languages_by_prefix,omitempty"`
	// EndKeywords are, per language, the messages with which a contact
	// ends a live chat (R24), matched like YES and NO (case and spaces
	// ignored). DefaultEndKeyword always counts; a contact's keywords are
	// those of its language and of the default language.
	EndKeywords map[string][]string `json:"end_keywords,omitempty"`

	hours *hours // set by Validate
}

// Closure is a date, a range of dates, or a range of local times when a
// department is closed. From and To are "2006-01-02" (whole days, To
// inclusive) or "2006-01-02T15:04" (To exclusive); To may be empty for a
// single day.
type Closure struct {
	Name string `json:"name,omitempty"`
	From string `json:"from"`
	To   string `json:"to,omitempty"`
}

// Routing rules of one department (R3). A new conversation goes to the
// department whose Numbers hold the address the contact wrote to; else to
// the one with a Keyword found as a whole word in the first message; else to
// the Default one.
type Routing struct {
	Numbers  []string `json:"numbers,omitempty"`
	Keywords []string `json:"keywords,omitempty"`
	Default  bool     `json:"default,omitempty"`
}

// TextKind names one auto-responder text.
type TextKind string

// The auto-responder texts of a department.
const (
	TextOutOfHours         TextKind = "out_of_hours"
	TextLeaveMessagePrompt TextKind = "leave_message_prompt"
	TextConsentDeclined    TextKind = "consent_declined"
	TextIntakeClosed       TextKind = "intake_closed"
	TextAgentOnTheWay      TextKind = "agent_on_the_way"
	TextChatEnded          TextKind = "chat_ended"
	TextHelp               TextKind = "help"
	// TextContactLeft confirms to the contact that it ended the live chat
	// and says that writing again continues it (R24).
	TextContactLeft TextKind = "contact_left"
)

// Texts are a department's auto-responder texts in one language; empty
// fields fall back (see Department.Texts).
type Texts struct {
	OutOfHours         string `json:"out_of_hours,omitempty"`
	LeaveMessagePrompt string `json:"leave_message_prompt,omitempty"`
	ConsentDeclined    string `json:"consent_declined,omitempty"`
	IntakeClosed       string `json:"intake_closed,omitempty"`
	AgentOnTheWay      string `json:"agent_on_the_way,omitempty"`
	ChatEnded          string `json:"chat_ended,omitempty"`
	Help               string `json:"help,omitempty"`
	ContactLeft        string `json:"contact_left,omitempty"`
}

// Get returns the text of kind k, empty if unset.
func (t Texts) Get(k TextKind) string {
	switch k {
	case TextOutOfHours:
		return t.OutOfHours
	case TextLeaveMessagePrompt:
		return t.LeaveMessagePrompt
	case TextConsentDeclined:
		return t.ConsentDeclined
	case TextIntakeClosed:
		return t.IntakeClosed
	case TextAgentOnTheWay:
		return t.AgentOnTheWay
	case TextChatEnded:
		return t.ChatEnded
	case TextHelp:
		return t.Help
	case TextContactLeft:
		return t.ContactLeft
	}
	return ""
}

// DefaultLanguage is the language of the built-in texts.
const DefaultLanguage = "en"

// DefaultTexts are the built-in texts. The prompt is R6's wording (docs/rules.md).
var DefaultTexts = Texts{
	OutOfHours:         "Thank you for your message. We are closed right now, or no agent is available.",
	LeaveMessagePrompt: `Would you like to leave a message for the agent? Please respond with YES or NO. If you select Yes, after your last message, please send "//end" without the quotes to end the chat.`,
	ConsentDeclined:    "No problem. Please write to us again during our business hours.",
	IntakeClosed:       "Thank you, your message has been passed on. An agent will get back to you.",
	AgentOnTheWay:      "Another agent is on the way.",
	ChatEnded:          "The chat has ended. Thank you for contacting us.",
	Help:               "Write your question and an agent will answer during business hours.",
	ContactLeft:        "You have ended the chat. If you write to us again, the conversation continues.",
}

// DefaultEndKeyword ends a live chat (R24) and a message-leaving session
// (R12) in every department and language: the built-in prompt (R6) asks
// for it.
const DefaultEndKeyword = "//end"

// MaxEndKeywordLen bounds an end keyword: a short command, not a sentence.
const MaxEndKeywordLen = 32

// IsEndKeyword reports whether text ends a live chat of a contact in
// language lang (R24): DefaultEndKeyword, or one of d's end keywords of
// lang or of its default language, ignoring case and every space. d may be
// nil.
func (d *Department) IsEndKeyword(lang, text string) bool {
	reply := normalizeReply(text)
	if reply == "" {
		return false
	}
	if reply == normalizeReply(DefaultEndKeyword) {
		return true
	}
	if d == nil {
		return false
	}
	for _, l := range []string{lang, d.defaultLanguage()} {
		for _, k := range d.EndKeywords[l] {
			if normalizeReply(k) == reply {
				return true
			}
		}
	}
	return false
}

// Text returns the department's text of kind k in lang, falling back to the
// department's default language, then to the built-in text. d may be nil.
func (d *Department) Text(k TextKind, lang string) (text, usedLang string) {
	if d != nil {
		if lang != "" {
			if s := d.Texts[lang].Get(k); s != "" {
				return s, lang
			}
		}
		def := d.defaultLanguage()
		if s := d.Texts[def].Get(k); s != "" {
			return s, def
		}
	}
	return DefaultTexts.Get(k), DefaultLanguage
}

func (d *Department) defaultLanguage() string {
	if d.DefaultLanguage == "" {
		return DefaultLanguage
	}
	return d.DefaultLanguage
}

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// hours is a validated schedule: seconds of the local day per weekday, and
// closures as civil-time ranges. Everything compares local wall-clock time,
// so DST changes need no special case: 09:00 is 09:00 on both sides of one.
type hours struct {
	loc      *time.Location
	week     [7][]span // seconds since local midnight, [start, end)
	closures []span    // civil seconds (civilDay*86400 + second of day), [start, end)
}

type span struct{ start, end int64 }

// ValidationError lists every problem of a department, each naming the
// field, e.g. `schedule.monday[1]: "13:00-12:00" ends before it starts`.
type ValidationError struct {
	Department string
	Problems   []string
}

func (e *ValidationError) Error() string {
	prefix := "department"
	if e.Department != "" {
		prefix = fmt.Sprintf("department %q", e.Department)
	}
	return prefix + ": " + strings.Join(e.Problems, "; ")
}

// ErrInvalidDepartment is wrapped by every validation error, for callers
// that map it to a 422.
var ErrInvalidDepartment = errors.New("invalid department")

func (e *ValidationError) Unwrap() error { return ErrInvalidDepartment }

// MaxDepartmentIDLen is the longest department id; MaxDepartmentNameLen
// the longest name (and closure name).
const (
	MaxDepartmentIDLen   = 64
	MaxDepartmentNameLen = 256
)

// CheckDepartmentID returns the problem of a department id, or "" when id
// is one: 1 to 64 of a-z, 0-9, '-' and '_'. The rule is the department's
// own; an id that breaks it names no department, so every entrance (a
// path, a transfer) refuses it before any lookup (R38).
func CheckDepartmentID(id string) string {
	if id == "" {
		return "is required"
	}
	if len(id) > MaxDepartmentIDLen || strings.IndexFunc(id, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_'
	}) >= 0 {
		return "must be 1-64 of a-z, 0-9, '-', '_'"
	}
	return ""
}

// Validate checks every field, normalizes language tags, and prepares the
// schedule OpenAt evaluates. The error is a *ValidationError naming each
// faulty field. Texts follow gateway's rules of R38 (a department is
// stored as JSON in PostgreSQL, which refuses U+0000 there): texts sent to
// contacts refuse control characters other than tab and line breaks, names
// refuse all of them, and agents follow gateway.CheckAgentID.
func (d *Department) Validate() error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if d.ID == "" {
		add("id: required")
	} else if CheckDepartmentID(d.ID) != "" {
		add("id: %q must be 1-64 of a-z, 0-9, '-', '_'", clip(d.ID))
	}
	if problem := gateway.CheckLine(d.Name, MaxDepartmentNameLen); problem != "" {
		add("name: %s", problem)
	}
	h := &hours{}
	if d.TimeZone == "" {
		add("time_zone: required")
	} else if loc, err := time.LoadLocation(d.TimeZone); err != nil || strings.EqualFold(d.TimeZone, "local") {
		add("time_zone: unknown zone %q", clip(d.TimeZone))
	} else {
		h.loc = loc
	}
	for day, ivs := range d.Schedule {
		wd, ok := weekdays[day]
		if !ok {
			add("schedule.%s: unknown day (want monday … sunday)", clip(day))
			continue
		}
		var spans []span
		for i, iv := range ivs {
			s, err := parseInterval(iv)
			if err != nil {
				add("schedule.%s[%d]: %v", day, i, err)
				continue
			}
			spans = append(spans, s)
		}
		sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
		for i := 1; i < len(spans); i++ {
			if spans[i].start < spans[i-1].end {
				add("schedule.%s: intervals %s and %s overlap", day, spanString(spans[i-1]), spanString(spans[i]))
			}
		}
		h.week[wd] = spans
	}
	for field, cs := range map[string][]Closure{"holidays": d.Holidays, "closures": d.Closures} {
		for i, c := range cs {
			if problem := gateway.CheckLine(c.Name, MaxDepartmentNameLen); problem != "" {
				add("%s[%d].name: %s", field, i, problem)
			}
			s, err := parseClosure(c)
			if err != nil {
				add("%s[%d]: %v", field, i, err)
				continue
			}
			h.closures = append(h.closures, s)
		}
	}
	seenAgent := map[string]bool{}
	for i, a := range d.Agents {
		switch {
		case strings.TrimSpace(a) == "":
			add("agents[%d]: empty agent id", i)
		case gateway.CheckAgentID(a) != "":
			add("agents[%d]: %q %s", i, clip(a), gateway.CheckAgentID(a))
		case seenAgent[a]:
			add("agents[%d]: %q listed twice", i, a)
		}
		seenAgent[a] = true
	}
	for i, n := range d.Routing.Numbers {
		if n == "" || gateway.CheckKey(n, gateway.MaxAddressLen) != "" {
			add("routing.numbers[%d]: %q is not an address", i, clip(n))
		}
	}
	for i, k := range d.Routing.Keywords {
		if k == "" || len(words(k)) != 1 || words(k)[0] != strings.ToLower(k) {
			add("routing.keywords[%d]: %q must be one word of letters or digits", i, k)
		}
	}
	if d.DefaultLanguage != "" {
		if lang, err := templates.NormalizeLanguage(d.DefaultLanguage); err != nil {
			add("default_language: unknown language %q", d.DefaultLanguage)
		} else {
			d.DefaultLanguage = lang
		}
	}
	if len(d.Texts) > 0 {
		norm := make(map[string]Texts, len(d.Texts))
		for lang, t := range d.Texts {
			n, err := templates.NormalizeLanguage(lang)
			if err != nil {
				add("texts.%s: unknown language %q", clip(lang), clip(lang))
				continue
			}
			for _, k := range []TextKind{TextOutOfHours, TextLeaveMessagePrompt, TextConsentDeclined, TextIntakeClosed,
				TextAgentOnTheWay, TextChatEnded, TextHelp} {
				if problem := gateway.CheckText(t.Get(k), gateway.MaxTextLen); problem != "" {
					add("texts.%s.%s: %s", lang, k, problem)
				}
			}
			if _, dup := norm[n]; dup {
				add("texts.%s: language %s given twice", lang, n)
			}
			norm[n] = t
		}
		d.Texts = norm
		if _, ok := d.Texts[d.defaultLanguage()]; !ok && d.DefaultLanguage != "" {
			add("default_language: no texts in %q", d.DefaultLanguage)
		}
	}
	switch d.DeskPolicy.AgentTransfers {
	case "", TransferLiveChats, TransferAll, TransferNone:
	default:
		add("desk_policy.agent_transfers: %q is not one of live_chats, all, none", d.DeskPolicy.AgentTransfers)
	}
	d.validateEndKeywords(add)
	d.validateLanguagesByPrefix(add)
	if len(p) > 0 {
		sort.Strings(p) // map iteration above is random; keep messages stable
		return &ValidationError{Department: d.ID, Problems: p}
	}
	d.hours = h
	return nil
}

// validateLanguagesByPrefix normalizes the languages of LanguagesByPrefix
// and checks its prefixes: "+" and 1–15 digits, as E.164 numbers start.
func (d *Department) validateLanguagesByPrefix(add func(format string, args ...any)) {
	if len(d.LanguagesByPrefix) == 0 {
		return
	}
	norm := make(map[string]string, len(d.LanguagesByPrefix))
	for prefix, lang := range d.LanguagesByPrefix {
		digits, ok := strings.CutPrefix(prefix, "+")
		if !ok || len(digits) == 0 || len(digits) > 15 || strings.Trim(digits, "0123456789") != "" {
			add("languages_by_prefix.%s: not a number prefix (\"+\" and 1 to 15 digits)", prefix)
		}
		n, err := templates.NormalizeLanguage(lang)
		if err != nil {
			add("languages_by_prefix.%s: unknown language %q", prefix, lang)
			continue
		}
		norm[prefix] = n
	}
	d.LanguagesByPrefix = norm
}

// validateEndKeywords normalizes the languages of EndKeywords and refuses
// keywords that another rule reads first: YES and NO answer the prompt
// (R7, R8), the SMS keywords opt out, in or ask for help (R33).
func (d *Department) validateEndKeywords(add func(format string, args ...any)) {
	if len(d.EndKeywords) == 0 {
		return
	}
	norm := make(map[string][]string, len(d.EndKeywords))
	for lang, ks := range d.EndKeywords {
		n, err := templates.NormalizeLanguage(lang)
		if err != nil {
			add("end_keywords.%s: unknown language %q", lang, lang)
			continue
		}
		if _, dup := norm[n]; dup {
			add("end_keywords.%s: language %s given twice", lang, n)
		}
		for i, k := range ks {
			reply := normalizeReply(k)
			word := strings.ToUpper(strings.TrimSpace(k))
			switch {
			case reply == "":
				add("end_keywords.%s[%d]: empty keyword", lang, i)
			case utf8.RuneCountInString(k) > MaxEndKeywordLen:
				add("end_keywords.%s[%d]: longer than %d characters", lang, i, MaxEndKeywordLen)
			case reply == "YES" || reply == "NO":
				add("end_keywords.%s[%d]: %q answers the leave-a-message prompt", lang, i, k)
			case optOutKeywords[word] || optInKeywords[word] || helpKeywords[word]:
				add("end_keywords.%s[%d]: %q is an SMS opt-out, opt-in or help keyword", lang, i, k)
			}
		}
		norm[n] = ks
	}
	d.EndKeywords = norm
}

func parseClock(s string) (int64, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	hh, mm := s[:2], s[3:]
	for _, c := range hh + mm {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	h := int64(hh[0]-'0')*10 + int64(hh[1]-'0')
	m := int64(mm[0]-'0')*10 + int64(mm[1]-'0')
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*3600 + m*60, true
}

func parseInterval(iv string) (span, error) {
	a, b, ok := strings.Cut(strings.ReplaceAll(iv, " ", ""), "-")
	start, ok1 := parseClock(a)
	end, ok2 := parseClock(b)
	if !ok || !ok1 || !ok2 {
		return span{}, fmt.Errorf("%q is not HH:MM-HH:MM", iv)
	}
	if start == 24*3600 {
		return span{}, fmt.Errorf("%q starts at 24:00", iv)
	}
	if end <= start {
		return span{}, fmt.Errorf("%q ends before it starts (write overnight hours as two intervals)", iv)
	}
	return span{start, end}, nil
}

func spanString(s span) string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", s.start/3600, s.start%3600/60, s.end/3600, s.end%3600/60)
}

// civil returns the local wall-clock time t as seconds on a civil time line
// with no zone: comparisons on it ignore DST jumps.
func civil(t time.Time) int64 {
	y, m, d := t.Date()
	return civilDay(y, m, d)*86400 + int64(t.Hour()*3600+t.Minute()*60+t.Second())
}

func civilDay(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func parseCivil(s string) (sec int64, wholeDay bool, err error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return civilDay(t.Date()) * 86400, true, nil
	}
	if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
		return civil(t), false, nil
	}
	return 0, false, fmt.Errorf("%q is neither 2006-01-02 nor 2006-01-02T15:04", s)
}

func parseClosure(c Closure) (span, error) {
	from, fromDay, err := parseCivil(c.From)
	if err != nil {
		return span{}, fmt.Errorf("from: %w", err)
	}
	to, toDay := from, fromDay
	if c.To != "" {
		if to, toDay, err = parseCivil(c.To); err != nil {
			return span{}, fmt.Errorf("to: %w", err)
		}
	}
	if toDay {
		to += 86400 // a date as end is inclusive: up to the end of that day
	}
	if fromDay != toDay {
		return span{}, fmt.Errorf("from %q and to %q must both be dates or both be date-times", c.From, c.To)
	}
	if to <= from {
		return span{}, fmt.Errorf("to %q is not after from %q", c.To, c.From)
	}
	return span{from, to}, nil
}

// OpenAt reports whether the department is inside its business hours at
// now: the weekly schedule evaluated on the wall clock of its zone, minus
// holidays and closures. A department that failed or skipped Validate is
// never open.
func (d *Department) OpenAt(now time.Time) bool {
	h := d.hours
	if h == nil || h.loc == nil {
		return false
	}
	local := now.In(h.loc)
	c := civil(local)
	for _, s := range h.closures {
		if c >= s.start && c < s.end {
			return false
		}
	}
	sec := int64(local.Hour()*3600 + local.Minute()*60 + local.Second())
	for _, s := range h.week[local.Weekday()] {
		if sec >= s.start && sec < s.end {
			return true
		}
	}
	return false
}

// PresenceStatus is an agent's own availability choice.
type PresenceStatus string

// Presence statuses (PUT /v1/agents/{id}/presence).
const (
	PresenceOnline  PresenceStatus = "online"
	PresenceAway    PresenceStatus = "away"
	PresenceOffline PresenceStatus = "offline"
)

// Valid reports whether s is a known status.
func (s PresenceStatus) Valid() bool {
	return s == PresenceOnline || s == PresenceAway || s == PresenceOffline
}

// Presence is an agent's last reported status and when it was reported.
type Presence struct {
	AgentID     string
	Status      PresenceStatus
	HeartbeatAt time.Time
}

// Available reports whether the agent counts as reachable at now (R4): it
// said online, and said so within ttl, so that a crashed desk does not keep
// an agent online forever.
func (p Presence) Available(now time.Time, ttl time.Duration) bool {
	return p.Status == PresenceOnline && !p.HeartbeatAt.IsZero() && now.Sub(p.HeartbeatAt) <= ttl
}

// Directory is what routing and reachability need for one decision: the
// validated departments and the agents' presence.
type Directory struct {
	departments []*Department // sorted by ID
	byID        map[string]*Department
	byNumber    map[string]*Department
	byKeyword   map[string]*Department
	fallback    *Department
	presence    map[string]Presence
}

// NewDirectory validates the departments as a set (each one, then unique
// ids, numbers and keywords, at most one default) and indexes them.
func NewDirectory(deps []Department, presence []Presence) (*Directory, error) {
	dir := &Directory{
		byID: map[string]*Department{}, byNumber: map[string]*Department{},
		byKeyword: map[string]*Department{}, presence: map[string]Presence{},
	}
	var errs []error
	for i := range deps {
		d := deps[i]
		if err := d.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if dir.byID[d.ID] != nil {
			errs = append(errs, &ValidationError{Department: d.ID, Problems: []string{"id: defined twice"}})
			continue
		}
		dir.byID[d.ID] = &d
		dir.departments = append(dir.departments, &d)
	}
	sort.Slice(dir.departments, func(i, j int) bool { return dir.departments[i].ID < dir.departments[j].ID })
	for _, d := range dir.departments {
		for i, n := range d.Routing.Numbers {
			if o := dir.byNumber[n]; o != nil {
				errs = append(errs, &ValidationError{Department: d.ID, Problems: []string{fmt.Sprintf("routing.numbers[%d]: %q already routes to %q", i, n, o.ID)}})
			}
			dir.byNumber[n] = d
		}
		for i, k := range d.Routing.Keywords {
			k = strings.ToLower(k)
			if o := dir.byKeyword[k]; o != nil {
				errs = append(errs, &ValidationError{Department: d.ID, Problems: []string{fmt.Sprintf("routing.keywords[%d]: %q already routes to %q", i, k, o.ID)}})
			}
			dir.byKeyword[k] = d
		}
		if d.Routing.Default {
			if dir.fallback != nil {
				errs = append(errs, &ValidationError{Department: d.ID, Problems: []string{fmt.Sprintf("routing.default: %q is the default already", dir.fallback.ID)}})
			}
			dir.fallback = d
		}
	}
	for _, p := range presence {
		dir.presence[p.AgentID] = p
	}
	return dir, errors.Join(errs...)
}

// Departments returns the departments sorted by id.
func (dir *Directory) Departments() []*Department {
	if dir == nil {
		return nil
	}
	return slices.Clone(dir.departments)
}

// Get returns the department with id, or nil.
func (dir *Directory) Get(id string) *Department {
	if dir == nil || id == "" {
		return nil
	}
	return dir.byID[id]
}

// Route picks the department of a new conversation (R3): by the address the
// contact wrote to, then by a keyword of the first message, then the
// default. It returns nil when no department is configured or none fits.
func (dir *Directory) Route(to, text string) *Department {
	if dir == nil {
		return nil
	}
	if d := dir.byNumber[strings.TrimSpace(to)]; d != nil && to != "" {
		return d
	}
	if len(dir.byKeyword) > 0 {
		for _, w := range words(text) {
			if d := dir.byKeyword[w]; d != nil {
				return d
			}
		}
	}
	return dir.fallback
}

// Reachable reports whether an agent of d can be reached at now (R4): d is
// inside its business hours and at least one of its agents is available.
func (dir *Directory) Reachable(d *Department, now time.Time, ttl time.Duration) bool {
	if d == nil || !d.OpenAt(now) {
		return false
	}
	for _, a := range d.Agents {
		if dir.presence[a].Available(now, ttl) {
			return true
		}
	}
	return false
}

// words splits text into lowercase words of letters and digits.
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}
