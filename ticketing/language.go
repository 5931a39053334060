package ticketing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/chatgate/chatgate/gateway"
)

// LanguageSource says where a contact's language came from (R34), in the
// order the sources are tried.
type LanguageSource string

// Language sources, the first that gives a language wins.
const (
	// LanguageFromProfile: a desk or ops set it on the contact's profile.
	LanguageFromProfile LanguageSource = "profile"
	// LanguageFromChannel: the contact's channel reported it (the API
	// channel's "language" field).
	LanguageFromChannel LanguageSource = "channel"
	// LanguageFromNumberPrefix: the department maps the prefix of the
	// contact's number to it (Department.LanguagesByPrefix).
	LanguageFromNumberPrefix LanguageSource = "number_prefix"
	// LanguageFromDepartmentDefault: the department's default language.
	LanguageFromDepartmentDefault LanguageSource = "department_default"
)

// LanguageFor returns the language d gives a contact at address: the
// language of the longest of its LanguagesByPrefix that address starts
// with, else its default language. A nil d gives nothing.
func (d *Department) LanguageFor(address string) (string, LanguageSource) {
	if d == nil {
		return "", ""
	}
	best := ""
	for prefix := range d.LanguagesByPrefix {
		if len(prefix) > len(best) && strings.HasPrefix(address, prefix) {
			best = prefix
		}
	}
	if best != "" {
		return d.LanguagesByPrefix[best], LanguageFromNumberPrefix
	}
	return d.defaultLanguage(), LanguageFromDepartmentDefault
}

// ResolveLanguage returns the language of contact c in department dep and
// its source (R34): the profile's override, else the language its channel
// reported, else dep's mapping of number prefixes, else dep's default
// language. With none of them (no department, nothing reported) it returns
// "" and "": the texts are then chatgate's built-in English and templates
// of every language are offered.
func ResolveLanguage(c *Contact, dep *Department) (string, LanguageSource) {
	switch {
	case c.LanguageOverride != "":
		return c.LanguageOverride, LanguageFromProfile
	case c.ChannelLanguage != "":
		return c.ChannelLanguage, LanguageFromChannel
	}
	return dep.LanguageFor(c.Address)
}

// resolveLanguage sets the contact's language for dep, the department of
// the conversation at hand, and saves the contact when it changed.
func (d *decider) resolveLanguage(dep *Department) {
	c := d.st.Contact
	lang, src := ResolveLanguage(c, dep)
	if lang == c.Language && src == c.LanguageSource {
		return
	}
	c.Language, c.LanguageSource, c.UpdatedAt = lang, src, d.now
	for _, e := range d.effects {
		if s, ok := e.(SaveContact); ok && s.Contact == c {
			return // saved already, with what it holds when the batch is written
		}
	}
	d.effects = append(d.effects, SaveContact{Contact: c})
}

// contactView is a contact as events and the desk API show it.
func contactView(ct Contact) gateway.ContactView {
	return gateway.ContactView{ID: ct.ID, Channel: ct.Channel, Address: ct.Address, Name: ct.Name,
		Language: ct.Language, LanguageSource: string(ct.LanguageSource)}
}

// ReasonLanguage is the reason of a contact_updated event that changed the
// contact's language (R34).
const ReasonLanguage = "language"

// ErrContactNotFound is returned for a contact id that names no contact.
var ErrContactNotFound = errors.New("contact not found")

// ErrInvalidLanguage refuses a language tag that cannot be normalized.
var ErrInvalidLanguage = errors.New("invalid language")

// ContactLanguage is what a desk or ops sets on a contact's profile (R34).
type ContactLanguage struct {
	ContactID int64
	// Language is the override, any spelling ("pt-pt"); empty removes it,
	// so the channel's, the number prefix's or the department's default
	// language applies again.
	Language string
	// Actor is who set it, as the contact_updated event shows it.
	Actor Actor
}

// DecideContactLanguage sets the language override of the contact in st to
// lang (canonical, or "" to remove it) and resolves its language for dep,
// the department of its current conversation (R34). A change of the
// override is published as contact_updated (reason language) on the
// contact's open conversation, else its latest one; a contact with none has
// nothing a desk could show, and is only saved. Setting the override it has
// changes nothing.
func DecideContactLanguage(st *ContactState, lang string, actor Actor, env Env) []Effect {
	c := st.Contact
	if c.LanguageOverride == lang {
		return nil
	}
	d := newDecider(st, env)
	d.actor = &actor
	c.LanguageOverride, c.UpdatedAt = lang, d.now
	d.effects = append(d.effects, SaveContact{Contact: c})
	conv := d.current()
	var dep *Department
	if conv != nil {
		dep = env.Directory.Get(conv.DepartmentID)
	}
	d.resolveLanguage(dep)
	if conv != nil {
		d.emitDesk(gateway.TypeTicketContactUpdated, conv, ReasonLanguage, nil)
	}
	return d.effects
}

// ContactTx is the work of a contact's profile change inside its
// transaction.
type ContactTx interface {
	// LoadContact locks the contact with id (the lock inbound batches
	// take) and returns it with its open conversation, else its latest one,
	// and the directory; ErrContactNotFound when none has the id.
	LoadContact(ctx context.Context, id int64) (*ContactState, []Department, []Presence, error)
}

// SetContactLanguage sets or removes the language override of a contact's
// profile (PUT /v1/contacts/{id}/language), in its own transaction, and
// returns the contact as events show it. The language is normalized
// (ErrInvalidLanguage when it cannot be); ErrContactNotFound when no
// contact has the id.
func (s *Service) SetContactLanguage(ctx context.Context, p ContactLanguage) (gateway.ContactView, error) {
	lang := strings.TrimSpace(p.Language)
	if lang != "" {
		n, err := gateway.NormalizeLanguage(lang)
		if err != nil {
			return gateway.ContactView{}, fmt.Errorf("%w: %v", ErrInvalidLanguage, err)
		}
		lang = n
	}
	var view gateway.ContactView
	err := s.Store.InTx(ctx, func(tx StoreTx) error {
		st, deps, presence, err := tx.LoadContact(ctx, p.ContactID)
		if err != nil {
			return err
		}
		env := Env{Now: s.Now().UTC(), Config: s.Config, Directory: s.deskDirectory(ctx, deps, presence)}
		effects := DecideContactLanguage(st, lang, p.Actor, env)
		view = contactView(*st.Contact)
		ch := &Changes{}
		if err := s.apply(ctx, tx, effects, ch); err != nil {
			return err
		}
		if ch.empty() {
			return nil
		}
		return tx.Save(ctx, ch)
	})
	if err != nil {
		return gateway.ContactView{}, fmt.Errorf("set language of contact %d: %w", p.ContactID, err)
	}
	return view, nil
}
