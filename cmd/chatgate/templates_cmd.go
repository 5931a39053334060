package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/chatgate/chatgate/templates"
	"github.com/chatgate/chatgate/templates/pgstore"
)

// newTemplatesCmd is `chatgate templates …`: ops management of message
// templates (R30, docs/rules.md) straight on the database, the same store the HTTP
// API /v1/templates uses.
func newTemplatesCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "templates",
		Short: "List, show, apply, export, approve, reject and disable message templates",
		Long: `Manage message templates (docs/templates.md) in chatgate's database.

The database is CHATGATE_DATABASE_URL (or --database-url). Without one, the commands use
the managed local PostgreSQL under CHATGATE_DATA_DIR: the one a running 'chatgate run'
serves, or, when chatgate is not running, they start it for the duration of the command.

Where a template exists in one language only, --language may be left out.`,
		Args: cobra.NoArgs,
	}
	withStore := databaseFlag(cmd, stderr, pgstore.New)

	cmd.AddCommand(
		newTemplatesListCmd(stdout, withStore),
		newTemplatesShowCmd(stdout, withStore),
		newTemplatesApplyCmd(stdout, withStore),
		newTemplatesExportCmd(stdout, withStore),
		newTemplatesStatusCmd(stdout, withStore, "approve", templates.StatusApproved,
			"Approve the current version (a draft); it replaces the approved version, if any"),
		newTemplatesStatusCmd(stdout, withStore, "reject", templates.StatusRejected,
			"Reject the current version (a draft); an approved version stays in use"),
		newTemplatesStatusCmd(stdout, withStore, "disable", templates.StatusDisabled,
			"Disable the approved version: it is no longer sent"),
	)
	return cmd
}

func newTemplatesListCmd(stdout io.Writer, withStore storeRunner[*pgstore.Store]) *cobra.Command {
	var p templates.ListParams
	var status, channel, category, language string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List templates (their current versions)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p.Status, p.Channel, p.Category = templates.Status(status), templates.ChannelScope(channel), templates.Category(category)
			switch {
			case status != "" && !p.Status.Valid():
				return usageErrorf("--status %q: want draft, approved, rejected or disabled", status)
			case channel != "" && !p.Channel.Valid():
				return usageErrorf("--channel %q: want whatsapp, sms or any", channel)
			case category != "" && !p.Category.Valid():
				return usageErrorf("--category %q: want utility, marketing or authentication", category)
			}
			if language != "" {
				lang, err := templates.NormalizeLanguage(language)
				if err != nil {
					return usageErrorf("--language: %w", err)
				}
				p.Language = lang
			}
			return withStore(cmd, func(ctx context.Context, s *pgstore.Store) error {
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tLANGUAGE\tVERSION\tSTATUS\tLIVE\tCATEGORY\tCHANNEL\tUPDATED")
				p.Limit = templates.MaxPageSize
				for {
					res, err := s.List(ctx, &p)
					if err != nil {
						return err
					}
					for _, r := range res.Rows {
						live := "-"
						if r.LiveVersion > 0 {
							live = strconv.Itoa(r.LiveVersion)
						}
						fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Language, r.Version, r.Status, live,
							r.Category, r.Channel, r.UpdatedAt.Format(time.RFC3339))
					}
					if res.NextCursor == "" {
						return tw.Flush()
					}
					p.Cursor = res.NextCursor
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&language, "language", "", "only this language (e.g. pt_BR)")
	f.StringVar(&status, "status", "", "only this status of the current version: draft, approved, rejected, disabled")
	f.StringVar(&channel, "channel", "", "only templates usable on whatsapp or sms (includes 'any'), or 'any'")
	f.StringVar(&category, "category", "", "only this category: utility, marketing, authentication")
	f.StringVar(&p.NamePrefix, "prefix", "", "only names starting with this")
	return cmd
}

func newTemplatesShowCmd(stdout io.Writer, withStore storeRunner[*pgstore.Store]) *cobra.Command {
	var language string
	var version int
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a template (its current version, or --version) as YAML",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, func(ctx context.Context, s *pgstore.Store) error {
				lang, err := templates.ResolveLanguage(ctx, s, args[0], language)
				if err != nil {
					return err
				}
				row, err := s.Get(ctx, &templates.GetParams{Name: args[0], Language: lang, Version: version})
				if err != nil {
					return err
				}
				out, err := yaml.Marshal(row)
				if err != nil {
					return fmt.Errorf("show template: %w", err)
				}
				_, err = stdout.Write(out)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&language, "language", "", "language of the template (needed if it exists in several)")
	cmd.Flags().IntVar(&version, "version", 0, "version to show (default: the current one)")
	return cmd
}

func newTemplatesApplyCmd(stdout io.Writer, withStore storeRunner[*pgstore.Store]) *cobra.Command {
	var file string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE.yaml",
		Short: "Create and update templates to match a YAML file (idempotent)",
		Long: `Make the database hold the templates of a YAML file (docs/templates.md, "The YAML file"):
missing templates are created, changed ones get a new version, and a status given in the
file is reached along the lifecycle. Applying the same file again changes nothing.
Templates not in the file are left alone. The whole file is checked before anything is
written. -f - reads standard input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := readInput(cmd.InOrStdin(), file, "templates")
			if err != nil {
				return err
			}
			want, err := templates.ParseFile(data)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			return withStore(cmd, func(ctx context.Context, s *pgstore.Store) error {
				run, verb := templates.Apply, ""
				if dryRun {
					run, verb = templates.Plan, "would be "
				}
				rep, err := run(ctx, s, want)
				if rep != nil {
					printApplyReport(stdout, rep, verb)
				}
				var ve *templates.ValidationError
				if errors.As(err, &ve) {
					var b strings.Builder
					fmt.Fprintf(&b, "%s: nothing applied:", file)
					for _, fe := range ve.Errors {
						fmt.Fprintf(&b, "\n  %s", fe.Error())
					}
					return errors.New(b.String())
				}
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "YAML file to apply ('-' for standard input)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change without changing anything")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// templateActionWords say what apply did to a template, or, in a dry run
// (verb "would be "), what it would do.
var templateActionWords = map[templates.ApplyAction][2]string{
	templates.ApplyCreated:       {"created", "would create"},
	templates.ApplyUpdated:       {"updated", "would update"},
	templates.ApplyStatusChanged: {"status changed", "would change status"},
	templates.ApplyUnchanged:     {"unchanged", "unchanged"},
}

// printApplyReport writes one line per template and a summary.
func printApplyReport(w io.Writer, rep *templates.ApplyReport, verb string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rep.Results {
		word := strings.ReplaceAll(string(r.Action), "_", " ")
		if words, ok := templateActionWords[r.Action]; ok {
			word = words[0]
			if verb != "" {
				word = words[1]
			}
		}
		fmt.Fprintf(tw, "%s\t%s (%s)\tversion %d\t%s\n", word, r.Name, r.Language, r.Version, r.Status)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d templates: %d %screated, %d %supdated, %d status %schanged, %d unchanged\n", len(rep.Results),
		rep.Count(templates.ApplyCreated), verb, rep.Count(templates.ApplyUpdated), verb,
		rep.Count(templates.ApplyStatusChanged), verb, rep.Count(templates.ApplyUnchanged))
}

func newTemplatesExportCmd(stdout io.Writer, withStore storeRunner[*pgstore.Store]) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write every template (current versions) as a YAML file that apply accepts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(ctx context.Context, s *pgstore.Store) error {
				ts, err := templates.Export(ctx, s)
				if err != nil {
					return err
				}
				data, err := templates.MarshalFile(ts)
				if err != nil {
					return err
				}
				return writeExport(stdout, out, data, "templates")
			})
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default: standard output)")
	return cmd
}

func newTemplatesStatusCmd(stdout io.Writer, withStore storeRunner[*pgstore.Store], verb string, to templates.Status, short string) *cobra.Command {
	var language string
	cmd := &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, func(ctx context.Context, s *pgstore.Store) error {
				lang, err := templates.ResolveLanguage(ctx, s, args[0], language)
				if err != nil {
					return err
				}
				row, err := s.SetStatus(ctx, &templates.SetStatusParams{Name: args[0], Language: lang, Status: to})
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s (%s) version %d is %s\n", row.Name, row.Language, row.Version, row.Status)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&language, "language", "", "language of the template (needed if it exists in several)")
	return cmd
}
