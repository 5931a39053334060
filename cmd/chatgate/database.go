package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/chatgate/chatgate/gateway/devstack"
	"github.com/chatgate/chatgate/gateway/postgres"
)

// cliConnectTimeout bounds how long a CLI command waits for its database.
const cliConnectTimeout = 60 * time.Second

// cliDB is the database a CLI command (templates, whatsapp, departments)
// works on, and what to stop when it is done.
type cliDB struct {
	url  string
	pool *pgxpool.Pool
	pg   *devstack.Postgres // started by this command, or nil
	log  *slog.Logger
}

func (d *cliDB) close() {
	d.pool.Close()
	if d.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.pg.Stop(ctx); err != nil {
			d.log.Error("stop embedded postgres", "error", err)
		}
	}
}

// openDatabase connects to dbURL, else CHATGATE_DATABASE_URL, else the
// managed local database: the running one if `chatgate run` serves it,
// otherwise started (and migrated, as `chatgate run` would) for this command.
// A configured database is not migrated: that is `chatgate migrate`'s job.
func openDatabase(ctx context.Context, dbURL string, stderr io.Writer) (*cliDB, error) {
	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	if dbURL != "" {
		cfg.DatabaseURL = dbURL
	}
	log := newLogger(stderr, "warn")
	ctx, cancel := context.WithTimeout(ctx, cliConnectTimeout)
	defer cancel()
	if !cfg.embeddedPostgres() {
		pool, err := postgres.Connect(ctx, cfg.DatabaseURL, 4)
		if err != nil {
			return nil, err
		}
		return &cliDB{url: cfg.DatabaseURL, pool: pool, log: log}, nil
	}

	dir := cfg.dataPath("postgres")
	if u, ok := devstack.RunningPostgresURL(dir, devstack.DefaultDatabase); ok {
		attachCtx, cancelAttach := context.WithTimeout(ctx, 3*time.Second)
		pool, err := postgres.Connect(attachCtx, u, 4)
		cancelAttach()
		if err == nil {
			return &cliDB{url: u, pool: pool, log: log}, nil
		}
		// A postmaster.pid left by a crash: start the cluster ourselves.
	}
	pg, err := devstack.StartPostgres(ctx, devstack.PostgresConfig{Dir: dir, Logger: log})
	if err != nil {
		if errors.Is(err, devstack.ErrNoPostgresBinaries) {
			return nil, fmt.Errorf("%w\n(or point chatgate at a server with CHATGATE_DATABASE_URL)", err)
		}
		return nil, fmt.Errorf("start embedded postgres: %w", err)
	}
	db := &cliDB{url: pg.URL(), pg: pg, log: log}
	db.pool, err = postgres.Connect(ctx, pg.URL(), 4)
	if err == nil {
		_, err = postgres.Migrate(ctx, db.pool, log)
	}
	if err != nil {
		if db.pool != nil {
			db.close()
		} else {
			_ = pg.Stop(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	return db, nil
}

// storeRunner runs a CLI command's work with a store on its database.
type storeRunner[S any] func(cmd *cobra.Command, fn func(ctx context.Context, s S) error) error

// databaseFlag adds --database-url to cmd and returns a runner that opens
// that database (see openDatabase), builds a store on it with newStore, and
// runs fn with it: the shape every database CLI command shares.
func databaseFlag[S any](cmd *cobra.Command, stderr io.Writer, newStore func(*pgxpool.Pool) S) storeRunner[S] {
	var dbURL string
	cmd.PersistentFlags().StringVar(&dbURL, "database-url", "", "PostgreSQL URL (default CHATGATE_DATABASE_URL, else the managed local database)")
	return func(cmd *cobra.Command, fn func(context.Context, S) error) error {
		ctx := cmd.Context()
		db, err := openDatabase(ctx, dbURL, stderr)
		if err != nil {
			return err
		}
		defer db.close()
		return fn(ctx, newStore(db.pool))
	}
}
