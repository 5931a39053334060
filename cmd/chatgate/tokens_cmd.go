package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/gateway/postgres"
)

// newTokensCmd is `chatgate tokens …`: issue, list and revoke the bearer
// tokens stored in the database (docs/tokens.md), next to the bootstrap
// tokens of the environment.
func newTokensCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Create, list and revoke bearer tokens for agents, supervisors, desks, ops and API channels",
		Long: `Manage the bearer tokens stored in chatgate's database (docs/tokens.md).

Only a digest of each secret is stored: 'create' prints the secret once, and nothing
can show it again. A revoked token is refused by every chatgate server within ` + httpapi.DefaultTokenCacheTTL.String() + `
(the time a server caches a token it has seen). The bootstrap tokens of the environment
(CHATGATE_API_TOKEN, CHATGATE_DESK_TOKEN, CHATGATE_OPS_TOKEN) are not listed here and
keep working; change them in the environment.

The database is CHATGATE_DATABASE_URL (or --database-url). Without one, the commands use
the managed local PostgreSQL under CHATGATE_DATA_DIR: the one a running 'chatgate run'
serves, or, when chatgate is not running, they start it for the duration of the command.`,
		Args: cobra.NoArgs,
	}
	withStore := databaseFlag(cmd, stderr, postgres.NewTokenStore)
	cmd.AddCommand(
		newTokensCreateCmd(stdout, stderr, withStore),
		newTokensListCmd(stdout, withStore),
		newTokensRevokeCmd(stdout, withStore),
	)
	return cmd
}

func roleNames() string {
	var names []string
	for _, r := range httpapi.Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

func newTokensCreateCmd(stdout, stderr io.Writer, withStore storeRunner[*postgres.TokenStore]) *cobra.Command {
	var p postgres.CreateTokenParams
	var role string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create --role ROLE [--agent ID] [--label TEXT]",
		Short: "Issue a token and print its secret (the only time it is shown)",
		Long: `Issue a token and print its secret on standard output, alone on its line, so that
TOKEN=$(chatgate tokens create --role agent --agent ann) works; what was created is said
on standard error. The secret is shown this once: keep it, or revoke and create again.

Roles: agent and supervisor tokens act as one agent (--agent, required); desk, ops and
api-channel tokens act for no single agent (no --agent).`,
		Example: `  chatgate tokens create --role agent --agent ann --label "Ann's laptop"
  chatgate tokens create --role supervisor --agent sam
  chatgate tokens create --role desk --label "CRM desk integration"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p.Role = httpapi.Role(role)
			switch {
			case !p.Role.Valid():
				return usageErrorf("--role %q: want one of %s", role, roleNames())
			case p.Role.ActsAsAgent() && p.AgentID == "":
				return usageErrorf("--agent is required for a %s token: the agent it acts as", p.Role)
			case !p.Role.ActsAsAgent() && p.AgentID != "":
				return usageErrorf("--agent is only for agent and supervisor tokens; a %s token names the agent in each request", p.Role)
			}
			return withStore(cmd, func(ctx context.Context, s *postgres.TokenStore) error {
				tok, err := s.Create(ctx, &p)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSONTo(stdout, tok)
				}
				fmt.Fprintf(stderr, "Created token %d: %s. Its secret, shown this once:\n", tok.ID, describeToken(&tok.Token))
				_, err = fmt.Fprintln(stdout, tok.Secret)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "", "what the token may do: "+roleNames())
	f.StringVar(&p.AgentID, "agent", "", "the agent an agent or supervisor token acts as")
	f.StringVar(&p.Label, "label", "", "whose token it is or what it is for (shown by list)")
	f.BoolVar(&asJSON, "json", false, "print the created token, secret included, as JSON")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newTokensListCmd(stdout io.Writer, withStore storeRunner[*postgres.TokenStore]) *cobra.Command {
	var p postgres.ListTokensParams
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the stored tokens (never their secrets), oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(ctx context.Context, s *postgres.TokenStore) error {
				ts, err := s.List(ctx, &p)
				if err != nil {
					return err
				}
				if asJSON {
					if ts == nil {
						ts = []postgres.Token{}
					}
					return writeJSONTo(stdout, ts)
				}
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tROLE\tAGENT\tLABEL\tCREATED\tLAST USED\tREVOKED")
				for _, t := range ts {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, dash(t.AgentID), dash(t.Label),
						formatTime(t.CreatedAt), formatTime(t.LastUsedAt), formatTime(t.RevokedAt))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&p.IncludeRevoked, "all", false, "also list revoked tokens")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the tokens as a JSON array")
	return cmd
}

func newTokensRevokeCmd(stdout io.Writer, withStore storeRunner[*postgres.TokenStore]) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID...",
		Short: "Revoke tokens by id (from list)",
		Long: `Revoke tokens by their ids (the ID column of 'chatgate tokens list'). A revoked token
is refused with 401 by every chatgate server within ` + httpapi.DefaultTokenCacheTTL.String() + `. Revoking a revoked token changes
nothing; revoking cannot be undone: create a new token instead.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids := make([]int64, len(args))
			for i, a := range args {
				id, err := postgres.ParseTokenID(a)
				if err != nil {
					return usageError{err}
				}
				ids[i] = id
			}
			return withStore(cmd, func(ctx context.Context, s *postgres.TokenStore) error {
				for _, id := range ids {
					t, err := s.Revoke(ctx, id)
					if err != nil {
						return err
					}
					if t.AlreadyRevoked {
						fmt.Fprintf(stdout, "Token %d (%s) was already revoked at %s.\n", t.ID, describeToken(&t.Token), formatTime(t.RevokedAt))
						continue
					}
					fmt.Fprintf(stdout, "Revoked token %d (%s); servers that cached it refuse it within %s.\n",
						t.ID, describeToken(&t.Token), httpapi.DefaultTokenCacheTTL)
				}
				return nil
			})
		},
	}
}

// describeToken says what a token is for people: "agent token of ann
// (Ann's laptop)".
func describeToken(t *postgres.Token) string {
	s := string(t.Role) + " token"
	if t.AgentID != "" {
		s += " of " + t.AgentID
	}
	if t.Label != "" {
		s += " (" + t.Label + ")"
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
