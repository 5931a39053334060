package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/chatgate/chatgate/ticketing"
	deptapi "github.com/chatgate/chatgate/ticketing/opsapi"
	"github.com/chatgate/chatgate/ticketing/pgstore"
)

// newDepartmentsCmd is `chatgate departments …`: declarative management of
// departments (business hours, routing, auto-responder texts) straight on
// the database, through the same service the HTTP API /v1/departments uses.
func newDepartmentsCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "departments",
		Short: "Apply and export departments (business hours, routing, auto-responder texts)",
		Long: `Manage departments (docs/departments.md) in chatgate's database.

The database is CHATGATE_DATABASE_URL (or --database-url). Without one, the commands use
the managed local PostgreSQL under CHATGATE_DATA_DIR: the one a running 'chatgate run'
serves, or, when chatgate is not running, they start it for the duration of the command.`,
		Args: cobra.NoArgs,
	}
	withStore := databaseFlag(cmd, stderr, pgstore.New)
	cmd.AddCommand(newDepartmentsApplyCmd(stdout, withStore), newDepartmentsExportCmd(stdout, withStore))
	return cmd
}

func newDepartmentsApplyCmd(stdout io.Writer, withStore storeRunner[*pgstore.Store]) *cobra.Command {
	var file string
	var prune, dryRun bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE.yaml",
		Short: "Make the stored departments match a YAML file (idempotent)",
		Long: `Make the database hold the departments of a YAML file (docs/departments.md): new
departments are created, changed ones updated, unchanged ones left as they are, so
applying the same file again changes nothing. Departments not in the file are kept,
or deleted with --prune. Every department and the set as a whole (numbers and keywords
routed once, one default) are checked before anything is written. -f - reads
standard input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := readInput(cmd.InOrStdin(), file, "departments")
			if err != nil {
				return err
			}
			deps, err := parseDepartmentsFile(data)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			return withStore(cmd, func(ctx context.Context, s *pgstore.Store) error {
				svc, verb := &ticketing.Service{Directory: s, Now: time.Now}, ""
				if dryRun {
					svc, verb = deptapi.NewPlanService(s, time.Now), "would be "
				}
				ch, err := svc.ApplyDepartments(ctx, deps, prune)
				if errors.Is(err, ticketing.ErrInvalidDepartment) {
					var b strings.Builder
					fmt.Fprintf(&b, "%s: nothing applied:", file)
					for _, d := range deptapi.ValidationDetails(err, nil) {
						if d.Department != "" {
							fmt.Fprintf(&b, "\n  department %q: %s: %s", d.Department, d.Field, d.Message)
						} else {
							fmt.Fprintf(&b, "\n  %s", d.Message)
						}
					}
					return errors.New(b.String())
				}
				if err != nil {
					return err
				}
				printDepartmentChanges(stdout, ch, verb)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "YAML file to apply ('-' for standard input)")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete stored departments that are not in the file")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change without changing anything")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// printDepartmentChanges writes one line per department and a summary.
func printDepartmentChanges(w io.Writer, ch ticketing.DepartmentChanges, verb string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, g := range []struct {
		done, planned string // what apply did, what a dry run would do
		ids           []string
	}{{"created", "would create", ch.Created}, {"updated", "would update", ch.Updated},
		{"deleted", "would delete", ch.Deleted}, {"unchanged", "unchanged", ch.Unchanged}} {
		for _, id := range g.ids {
			word := g.done
			if verb != "" {
				word = g.planned
			}
			fmt.Fprintf(tw, "%s\t%s\n", word, id)
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d departments: %d %screated, %d %supdated, %d %sdeleted, %d unchanged\n",
		len(ch.Created)+len(ch.Updated)+len(ch.Deleted)+len(ch.Unchanged),
		len(ch.Created), verb, len(ch.Updated), verb, len(ch.Deleted), verb, len(ch.Unchanged))
}

func newDepartmentsExportCmd(stdout io.Writer, withStore storeRunner[*pgstore.Store]) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write every department as a YAML file that apply accepts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(ctx context.Context, s *pgstore.Store) error {
				deps, err := s.ListDepartments(ctx)
				if err != nil {
					return err
				}
				data, err := marshalDepartmentsFile(deps)
				if err != nil {
					return err
				}
				return writeExport(stdout, out, data, "departments")
			})
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default: standard output)")
	return cmd
}

// departmentsDocument is the YAML file of `chatgate departments apply` and
// `export`: the body of PUT /v1/departments. A bare list of departments is
// accepted too.
type departmentsDocument struct {
	Departments []ticketing.Department `json:"departments"`
}

// parseDepartmentsFile reads a departments YAML file: a mapping with the key
// "departments", or a bare list. Unknown or repeated keys are refused, so
// that a misspelt field ("timezone") is not silently dropped. The
// departments are returned as written; ApplyDepartments validates them.
func parseDepartmentsFile(data []byte) ([]ticketing.Department, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("departments file: %w", err)
	}
	switch js = bytes.TrimSpace(js); {
	case len(js) == 0 || string(js) == "null":
		return nil, errors.New("departments file: empty (write `departments: []` to mean no departments)")
	case js[0] == '[':
		var deps []ticketing.Department
		if err := yaml.UnmarshalStrict(data, &deps); err != nil {
			return nil, fmt.Errorf("departments file: %w", err)
		}
		return deps, nil
	case js[0] == '{':
		var doc departmentsDocument
		if err := yaml.UnmarshalStrict(data, &doc); err != nil {
			return nil, fmt.Errorf("departments file: %w", err)
		}
		if !bytes.Contains(js, []byte(`"departments"`)) {
			return nil, errors.New(`departments file: no "departments" key`)
		}
		return doc.Departments, nil
	}
	return nil, errors.New("departments file: want a mapping with \"departments\", or a list of departments")
}

// scheduleDays orders the days of an exported schedule.
var scheduleDays = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// marshalDepartmentsFile writes deps as a file parseDepartmentsFile reads
// back to the same departments. Keys come in the order of
// ticketing.Department, days in week order, so that an export reads like
// a hand-written file and diffs well.
func marshalDepartmentsFile(deps []ticketing.Department) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# chatgate departments (docs/departments.md). Apply with: chatgate departments apply -f FILE\n")
	if len(deps) == 0 {
		b.WriteString("departments: []\n")
		return b.Bytes(), nil
	}
	b.WriteString("departments:\n")
	for _, d := range deps {
		entry, err := marshalDepartment(d)
		if err != nil {
			return nil, fmt.Errorf("departments file: %s: %w", d.ID, err)
		}
		for i, line := range strings.Split(strings.TrimSuffix(string(entry), "\n"), "\n") {
			if i == 0 {
				b.WriteString("  - " + line + "\n")
			} else {
				b.WriteString("    " + line + "\n")
			}
		}
	}
	return b.Bytes(), nil
}

// marshalDepartment writes d's JSON fields (the contract) as YAML, in the
// order of ticketing.Department's fields, lists of strings on one line.
func marshalDepartment(d ticketing.Department) ([]byte, error) {
	js, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(js, &fields); err != nil {
		return nil, err
	}
	var keys []string
	t := reflect.TypeFor[ticketing.Department]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if _, ok := fields[name]; ok && name != "-" {
			keys = append(keys, name)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) { // none today; never drop one
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	var b bytes.Buffer
	for _, k := range keys {
		raw := fields[k]
		if k == "schedule" {
			var sched map[string]json.RawMessage
			if err := json.Unmarshal(raw, &sched); err != nil {
				return nil, err
			}
			b.WriteString("schedule:\n")
			days := slices.Clone(scheduleDays)
			for _, day := range slices.Sorted(maps.Keys(sched)) { // unknown days cannot be stored; keep them anyway
				if !slices.Contains(days, day) {
					days = append(days, day)
				}
			}
			for _, day := range days {
				if ivs, ok := sched[day]; ok {
					fmt.Fprintf(&b, "  %s: %s\n", day, compactJSON(ivs))
				}
			}
			continue
		}
		var strs []string
		if json.Unmarshal(raw, &strs) == nil && strs != nil {
			// A list of strings on one line: JSON is YAML.
			fmt.Fprintf(&b, "%s: %s\n", k, compactJSON(raw))
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		out, err := yaml.Marshal(map[string]any{k: v})
		if err != nil {
			return nil, err
		}
		b.Write(out)
	}
	return b.Bytes(), nil
}

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return strings.ReplaceAll(b.String(), `","`, `", "`)
}
