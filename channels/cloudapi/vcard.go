package cloudapi

import "strings"

// vCard writes a contact card of a "contacts" message as a vCard 3.0, the
// form records carry shared contacts in (the linked-device channel gets
// vCards from WhatsApp itself). Lines end in CRLF, as RFC 2426 says.
func vCard(c sharedCard) string {
	var b strings.Builder
	line := func(name, value string) {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(value)
		b.WriteString("\r\n")
	}
	line("BEGIN", "VCARD")
	line("VERSION", "3.0")
	n := c.Name
	fn := n.FormattedName
	if fn == "" {
		fn = strings.TrimSpace(strings.Join(nonEmpty(n.Prefix, n.FirstName, n.MiddleName, n.LastName, n.Suffix), " "))
	}
	line("FN", vcEscape(fn))
	if n.FirstName != "" || n.LastName != "" || n.MiddleName != "" || n.Prefix != "" || n.Suffix != "" {
		line("N", strings.Join([]string{vcEscape(n.LastName), vcEscape(n.FirstName), vcEscape(n.MiddleName), vcEscape(n.Prefix), vcEscape(n.Suffix)}, ";"))
	}
	if o := c.Org; o != nil {
		if o.Company != "" || o.Department != "" {
			line("ORG", vcEscape(o.Company)+";"+vcEscape(o.Department))
		}
		if o.Title != "" {
			line("TITLE", vcEscape(o.Title))
		}
	}
	for _, p := range c.Phones {
		name := "TEL" + vcType(p.Type)
		if p.WaID != "" {
			// WhatsApp's own vCards mark the WhatsApp id the same way.
			name += ";waid=" + vcParam(p.WaID)
		}
		line(name, vcEscape(firstNonEmpty(p.Phone, p.WaID)))
	}
	for _, e := range c.Emails {
		line("EMAIL"+vcType(e.Type), vcEscape(e.Email))
	}
	for _, a := range c.Addresses {
		// ADR: post office box; extended; street; locality; region; code; country.
		line("ADR"+vcType(a.Type), strings.Join([]string{"", "", vcEscape(a.Street), vcEscape(a.City), vcEscape(a.State), vcEscape(a.Zip), vcEscape(firstNonEmpty(a.Country, a.CountryCode))}, ";"))
	}
	for _, u := range c.URLs {
		line("URL"+vcType(u.Type), vcEscape(u.URL))
	}
	if c.Birthday != "" {
		line("BDAY", vcEscape(c.Birthday))
	}
	line("END", "VCARD")
	return b.String()
}

// vcEscape escapes a vCard text value (RFC 2426 §5): backslash, comma,
// semicolon and line breaks.
func vcEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, ",", `\,`, ";", `\;`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`).Replace(s)
}

// vcType is the TYPE parameter of a property, "" without a type.
func vcType(t string) string {
	t = strings.TrimSpace(t)
	if t == "" {
		return ""
	}
	return ";TYPE=" + vcParam(strings.ToUpper(t))
}

// vcParam keeps a parameter value to characters that need no quoting.
func vcParam(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ';' || r == ':' || r == ',' || r == '"' || r < 0x20 || r == 0x7f:
			return -1
		case r == ' ':
			return '_'
		}
		return r
	}, s)
}

func nonEmpty(vs ...string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
