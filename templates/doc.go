// Package templates is the pure core of chatgate's message templates: the
// model, its validation, rendering with variables, language fallback, and the
// helpers that decide whether free text may still be sent in WhatsApp's
// 24-hour customer-service window (rules R28–R31 of docs/rules.md).
//
// Nothing here does I/O or reads the clock: window helpers take the time as
// an argument, and storage, HTTP and CLI live elsewhere and call in.
//
// # Managing templates
//
// [Store] is the storage contract: versions, the lifecycle and the approved
// templates that fit a conversation; templates/pgstore implements it on
// PostgreSQL. [Apply], [Plan] and [Export] manage templates declaratively
// through a Store, and [ParseFile] and [MarshalFile] read and write the YAML
// file of `chatgate templates apply` and `export`. The ops HTTP API is
// templates/opsapi. See docs/templates.md.
//
// # Languages
//
// Languages are stored in one canonical form, the one WhatsApp uses for
// template languages: a lowercase primary language, then an optional
// title-case script and an optional uppercase region (or UN M.49 number),
// joined by underscores. "en", "EN-us", "pt-br" and "pt_BR" become "en",
// "en_US", "pt_BR" and "pt_BR"; "zh-hant-tw" becomes "zh_Hant_TW". See
// [NormalizeLanguage].
//
// # Variables
//
// A body uses one style of variables: numbered ({{1}}, {{2}}, … starting at
// 1 without gaps) or named ({{first_name}}: a lowercase letter, then
// lowercase letters, digits or underscores). Every "{{" in a body must open a
// well-formed placeholder; headers, footers and buttons carry no variables.
//
// # Rendering
//
// [Render] substitutes values in a single pass over the parsed body, so a
// value is always inserted literally: a value containing "{{2}}" is sent as
// the text "{{2}}" and is never expanded again.
package templates
