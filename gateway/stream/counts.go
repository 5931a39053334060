package stream

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Counts is the data of a queue.counts event: what one principal's queue
// badges and quick-accept buttons show (R18, R41). Each number is the
// length of the desk API's list for that principal.
type Counts struct {
	// Unassigned is the principal's unassigned queue (GET
	// /v1/tickets/unassigned): its departments', or all.
	Unassigned int `json:"unassigned"`
	// Mine is what is assigned to the principal's agent (GET
	// /v1/tickets/assigned); 0 without an agent.
	Mine int `json:"mine"`
	// Snoozed is the principal's snoozed list (GET /v1/tickets/snoozed).
	Snoozed int `json:"snoozed"`
	// Departments splits Unassigned by department, leaving out those with
	// none waiting; "" is the queue of no department.
	Departments []DepartmentCount `json:"departments"`
	// Agents are the assigned counts per agent, for principals that see
	// other agents' conversations (supervisors, desks); absent otherwise.
	Agents []AgentCount `json:"agents,omitempty"`
}

// DepartmentCount is one department's unassigned queue.
type DepartmentCount struct {
	Department string `json:"department"`
	Unassigned int    `json:"unassigned"`
}

// AgentCount is one agent's assigned conversations.
type AgentCount struct {
	AgentID  string `json:"agent_id"`
	Assigned int    `json:"assigned"`
}

// tally is one group of a count: so many conversations in state, of
// department, assigned to assignee.
type tally struct {
	state, department, assignee string
	count                       int
}

// countsFor derives a principal's counts from one query's tallies, asking
// its Viewer which groups are on its lists: the lists' own rule, so no
// count needs a query of its own.
func countsFor(v Viewer, agent string, totals []tally) Counts {
	c := Counts{Departments: []DepartmentCount{}}
	var agents []AgentCount
	others := false
	for _, t := range totals {
		if !v.Listed(t.state, t.department, t.assignee) {
			continue
		}
		switch t.state {
		case "unassigned":
			c.Unassigned += t.count
			c.Departments = append(c.Departments, DepartmentCount{Department: t.department, Unassigned: t.count})
		case "assigned":
			mine := agent != "" && t.assignee == agent
			if mine {
				c.Mine += t.count
			}
			agents = append(agents, AgentCount{AgentID: t.assignee, Assigned: t.count})
			others = others || !mine
		case "snoozed":
			c.Snoozed += t.count
		}
	}
	if others {
		c.Agents = agents
	}
	return c
}

// countLoop recounts the queues at most once per CountsDebounce, after a
// change woke it, and offers every live client its counts.
func (h *Hub) countLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.countWake:
		}
		timer := time.NewTimer(h.cfg.CountsDebounce)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		// Changes of this window are covered by the query below; a change
		// during the query wakes the next window.
		select {
		case <-h.countWake:
		default:
		}
		totals := []tally{} // not nil: counted, maybe nothing
		err := h.cfg.Count(ctx, func(state, department, assignee string, n int) {
			totals = append(totals, tally{state: state, department: department, assignee: assignee, count: n})
		})
		countQueries.Inc()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			h.log.WarnContext(ctx, "stream: queue counts failed; retrying", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			h.wakeCounts()
			continue
		}
		slices.SortFunc(totals, func(a, b tally) int {
			return cmp.Or(cmp.Compare(a.state, b.state), cmp.Compare(a.department, b.department), cmp.Compare(a.assignee, b.assignee))
		})
		h.mu.Lock()
		h.totals = totals
		for c := range h.clients {
			h.offerCountsLocked(c)
		}
		h.mu.Unlock()
	}
}

// offerCountsLocked queues c's counts if they differ from the last it was
// offered, replacing an unsent older payload.
func (h *Hub) offerCountsLocked(c *client) {
	if h.totals == nil {
		return // not counted yet (or no Count): the first count offers them
	}
	raw, err := json.Marshal(countsFor(c.viewer, c.agent, h.totals))
	if err != nil || bytes.Equal(raw, c.sent) {
		return
	}
	c.sent = raw
	select {
	case <-c.counts:
	default:
	}
	c.counts <- raw
}
