package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/gateway/testkit"
	"github.com/chatgate/chatgate/templates"
	"github.com/chatgate/chatgate/templates/pgstore"
)

const applyFile = `
templates:
  - name: order_shipped
    language: pt-br
    category: utility
    channel: whatsapp
    status: approved
    body: "Olá {{first_name}}, o pedido {{order_id}} saiu."
    buttons:
      - text: Rastrear
  - name: order_shipped
    language: en
    category: utility
    channel: whatsapp
    status: disabled
    body: "Hi {{first_name}}, order {{order_id}} has shipped."
  - name: otp
    language: en
    category: authentication
    channel: sms
    body: "{{1}} is your code."
  - name: promo
    language: en
    category: marketing
    status: rejected
    body: Sale!
`

func parse(t *testing.T, file string) []templates.Template {
	t.Helper()
	ts, err := templates.ParseFile([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// summary is "name/language action vN status" per result.
func summary(r *templates.ApplyReport) []string {
	var out []string
	for _, res := range r.Results {
		out = append(out, fmt.Sprintf("%s/%s %s v%d %s", res.Name, res.Language, res.Action, res.Version, res.Status))
	}
	return out
}

// snapshot is every stored row, to prove that nothing changed.
func snapshot(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT name, language, version, status, is_current, body, updated_at FROM templates ORDER BY 1, 2, 3`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, vals...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestR30_ApplyTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	s := pgstore.New(pool)
	ctx := context.Background()
	want := parse(t, applyFile)

	first, err := templates.Apply(ctx, s, want)
	if err != nil {
		t.Fatal(err)
	}
	wantFirst := []string{
		"order_shipped/pt_BR created v1 approved",
		"order_shipped/en created v1 disabled",
		"otp/en created v1 draft",
		"promo/en created v1 rejected",
	}
	if got := summary(first); !reflect.DeepEqual(got, wantFirst) {
		t.Fatalf("first apply = %v\nwant %v", got, wantFirst)
	}
	if !first.Changed() || first.Count(templates.ApplyCreated) != 4 {
		t.Fatalf("first apply counts: %+v", first)
	}
	before := snapshot(t, pool)

	plan, err := templates.Plan(ctx, s, want)
	if err != nil {
		t.Fatal(err)
	}
	second, err := templates.Apply(ctx, s, want)
	if err != nil {
		t.Fatal(err)
	}
	wantSecond := []string{
		"order_shipped/pt_BR unchanged v1 approved",
		"order_shipped/en unchanged v1 disabled",
		"otp/en unchanged v1 draft",
		"promo/en unchanged v1 rejected",
	}
	for name, r := range map[string]*templates.ApplyReport{"plan": plan, "second apply": second} {
		if got := summary(r); !reflect.DeepEqual(got, wantSecond) || r.Changed() {
			t.Fatalf("%s = %v\nwant %v", name, got, wantSecond)
		}
	}
	if after := snapshot(t, pool); after != before {
		t.Fatalf("second apply changed the store:\nbefore\n%s\nafter\n%s", before, after)
	}
}

func TestR30_ApplyChanges(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	s := pgstore.New(pool)
	ctx := context.Background()
	if _, err := templates.Apply(ctx, s, parse(t, applyFile)); err != nil {
		t.Fatal(err)
	}

	changed := parse(t, applyFile)
	changed[0].Body = "Olá {{first_name}}, seu pedido {{order_id}} saiu." // new content, status approved
	changed[1].Status = templates.StatusApproved                          // disabled, same content: back as a new version
	changed[2].Status = templates.StatusApproved                          // draft, same content: approve it
	changed[3].Status = ""                                                // no status: leave it

	plan, err := templates.Plan(ctx, s, changed)
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, pool)
	rep, err := templates.Apply(ctx, s, changed)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"order_shipped/pt_BR updated v2 approved",
		"order_shipped/en updated v2 approved",
		"otp/en status_changed v1 approved",
		"promo/en unchanged v1 rejected",
	}
	if got := summary(rep); !reflect.DeepEqual(got, want) {
		t.Fatalf("apply = %v\nwant %v", got, want)
	}
	if got := summary(plan); !reflect.DeepEqual(got, want) {
		t.Fatalf("plan = %v\nwant %v (plan wrote? %v)", got, want, before != snapshot(t, pool))
	}
	v1, err := s.Get(ctx, &templates.GetParams{Name: "order_shipped", Language: "pt_BR", Version: 1})
	if err != nil || v1.Status != templates.StatusDisabled || v1.LiveVersion != 2 {
		t.Fatalf("replaced version = %+v, %v; want disabled, live version 2", v1, err)
	}
	// And again: nothing more.
	again, err := templates.Apply(ctx, s, changed)
	if err != nil || again.Changed() {
		t.Fatalf("re-apply = %v, %v", summary(again), err)
	}
}

func TestApplyRefusesBeforeWriting(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	s := pgstore.New(pool)
	ctx := context.Background()
	if _, err := templates.Apply(ctx, s, parse(t, applyFile)); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, pool)

	tests := []struct {
		name   string
		edit   func(ts []templates.Template) []templates.Template
		fields []string
	}{
		{"invalid entries", func(ts []templates.Template) []templates.Template {
			ts[0].Body = "{{1}} {{3}}"
			ts[2].Status = "live"
			ts[3].Language = "english"
			return ts
		}, []string{"templates[0].body", "templates[2].status", "templates[3].language"}},
		{"twice the same template", func(ts []templates.Template) []templates.Template {
			dup := ts[2]
			dup.Language = "EN"
			return append(ts, dup)
		}, []string{"templates[4].name"}},
		{"statuses reached through a new version", func(ts []templates.Template) []templates.Template {
			ts[0].Status = templates.StatusRejected // approved cannot become rejected
			ts[0].Body = ts[0].Body + " "           // …but a changed body is a new draft, which can
			ts[3].Status = templates.StatusDisabled // rejected, same content: only approved can be disabled… via a new version
			ts[1].Status = templates.StatusDraft    // disabled, same content: a new draft
			ts[2].Body = "{{1}} is your code"       // new draft
			return ts
		}, nil},
		{"approved back to draft", func(ts []templates.Template) []templates.Template {
			ts[0].Status = templates.StatusDraft
			return ts
		}, []string{"templates[0].status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := tt.edit(parse(t, applyFile))
			_, perr := templates.Plan(ctx, s, ts)
			if tt.fields == nil {
				if perr != nil {
					t.Errorf("%s: Plan() = %v, want nil", tt.name, perr)
				}
				return
			}
			_, err := templates.Apply(ctx, s, ts)
			var ve *templates.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, templates.ErrInvalid) || !reflect.DeepEqual(ve.Fields(), tt.fields) {
				t.Errorf("%s: Apply() = %v, want a ValidationError on %v", tt.name, err, tt.fields)
			}
			if !reflect.DeepEqual(perr, err) {
				t.Errorf("%s: Plan() = %v, Apply() = %v; want the same", tt.name, perr, err)
			}
			if after := snapshot(t, pool); after != before {
				t.Fatalf("%s: a refused apply changed the store", tt.name)
			}
		})
	}
}

func TestR30_ExportThenApplyChangesNothing(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	s := pgstore.New(pool)
	ctx := context.Background()
	if _, err := templates.Apply(ctx, s, parse(t, applyFile)); err != nil {
		t.Fatal(err)
	}
	// A pending edit over an approved version: the export carries the edit.
	edit := parse(t, applyFile)[0]
	edit.Status = ""
	edit.Body = "Olá {{first_name}}! Pedido {{order_id}} enviado."
	edit.Normalize()
	if _, err := s.Update(ctx, &templates.UpdateParams{Template: edit}); err != nil {
		t.Fatal(err)
	}

	exported, err := templates.Export(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	file, err := templates.MarshalFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, pool)
	rep, err := templates.Apply(ctx, s, parse(t, string(file)))
	if err != nil {
		t.Fatalf("apply export: %v\n%s", err, file)
	}
	if rep.Changed() || len(rep.Results) != 4 {
		t.Fatalf("applying the export = %v\n%s", summary(rep), file)
	}
	if snapshot(t, pool) != before {
		t.Fatal("applying the export changed the store")
	}

	// Into an empty store, the export gives the same current templates.
	fresh := pgstore.New(pgtest.Pool(t))
	if _, err := templates.Apply(ctx, fresh, parse(t, string(file))); err != nil {
		t.Fatal(err)
	}
	again, err := templates.Export(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		again[i].Version, exported[i].Version = 0, 0
	}
	if diff := cmp.Diff(exported, again, testkit.ExactTime); diff != "" {
		t.Fatalf("export of the copy (-want +got):\n%s", diff)
	}
}
