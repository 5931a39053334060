// Package devstack provides chatgate's embedded defaults: an in-process
// Kafka-protocol broker and a managed local PostgreSQL cluster, so that
// `chatgate run` works with no configuration at all.
//
// Neither is meant to replace a real Kafka cluster or a managed database in
// production: the broker is a single node without replication, and the
// PostgreSQL cluster lives in one directory on one machine. They exist so a
// developer, a test or a small single-host deployment gets the same code
// paths (Kafka protocol, PostgreSQL) as a large one.
package devstack

import "errors"

// ErrDirInUse is returned (wrapped) when a data directory is already used by
// another running broker or PostgreSQL server. Two servers on one directory
// would corrupt it, so we refuse rather than guess.
var ErrDirInUse = errors.New("data directory is in use by another running server")
