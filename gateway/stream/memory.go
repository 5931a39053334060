package stream

import "container/list"

// memory remembers what visibility read of the conversations of the latest
// events, at most max of them, forgetting the least recently changed: it
// tells the hub who saw a conversation before its next change. Only the
// hub's ingest goroutine uses it.
type memory struct {
	max   int
	items map[int64]*list.Element
	order *list.List // of *remembered, least recently changed first
}

type remembered struct {
	id int64
	st visState
}

func newMemory(max int) *memory {
	return &memory{max: max, items: make(map[int64]*list.Element), order: list.New()}
}

// swap records st as conversation id's state and returns the one it
// replaces, if it was remembered.
func (m *memory) swap(id int64, st visState) (visState, bool) {
	if el, ok := m.items[id]; ok {
		r := el.Value.(*remembered)
		prev := r.st
		r.st = st
		m.order.MoveToBack(el)
		return prev, true
	}
	m.items[id] = m.order.PushBack(&remembered{id: id, st: st})
	if m.order.Len() > m.max {
		oldest := m.order.Front()
		delete(m.items, oldest.Value.(*remembered).id)
		m.order.Remove(oldest)
	}
	return visState{}, false
}

// get returns conversation id's remembered state.
func (m *memory) get(id int64) (visState, bool) {
	el, ok := m.items[id]
	if !ok {
		return visState{}, false
	}
	return el.Value.(*remembered).st, true
}
