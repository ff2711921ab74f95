package container

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
)

// index finds containers by full ID, by name (with or without its
// slash) and by unique ID prefix, in that order, as Docker does. It also
// owns name reservations, so that two creates cannot take one name.
type index struct {
	mu     sync.RWMutex
	byID   map[string]*Container
	byName map[string]string // "/name" -> ID; may name a container still being created
}

func newIndex() *index {
	return &index{byID: map[string]*Container{}, byName: map[string]string{}}
}

func errNoSuchContainer(ref string) error {
	return errdefs.ErrNotFound.WithMessage("No such container: " + ref)
}

func errNameConflict(name, id string) error {
	return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Conflict. The container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name.", name, id))
}

// get resolves a reference the user gave.
func (x *index) get(ref string) (*Container, error) {
	if ref == "" {
		return nil, errdefs.ErrInvalidArgument.WithMessage(`invalid name or ID supplied: ""`)
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if c, ok := x.byID[ref]; ok {
		return c, nil
	}
	name := ref
	if name[0] != '/' {
		name = "/" + name
	}
	if id, ok := x.byName[name]; ok {
		if c, ok := x.byID[id]; ok {
			return c, nil
		}
	}
	var found *Container
	for id, c := range x.byID {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, errdefs.ErrInvalidArgument.WithMessage("multiple IDs found with provided prefix: " + ref)
			}
			found = c
		}
	}
	if found == nil {
		return nil, errNoSuchContainer(ref)
	}
	return found, nil
}

// reserveName takes name ("/x") for id, or reports Docker's conflict.
func (x *index) reserveName(name, id string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if owner, ok := x.byName[name]; ok && owner != id {
		return errNameConflict(name, owner)
	}
	x.byName[name] = id
	return nil
}

// releaseName frees name if id holds it.
func (x *index) releaseName(name, id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byName[name] == id {
		delete(x.byName, name)
	}
}

// add makes a fully created container visible.
func (x *index) add(c *Container) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.byID[c.ID] = c
}

// remove forgets a container and its name.
func (x *index) remove(id, name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.byID, id)
	if x.byName[name] == id {
		delete(x.byName, name)
	}
}

// list returns every container, newest first (the order of `docker ps`).
func (x *index) list() []*Container {
	x.mu.RLock()
	out := make([]*Container, 0, len(x.byID))
	for _, c := range x.byID {
		out = append(out, c)
	}
	x.mu.RUnlock()
	created := make(map[*Container]int64, len(out))
	for _, c := range out {
		c.mu.Lock()
		created[c] = c.Created.UnixNano()
		c.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if created[out[i]] != created[out[j]] {
			return created[out[i]] > created[out[j]]
		}
		return out[i].ID > out[j].ID
	})
	return out
}

// len is the number of containers.
func (x *index) len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byID)
}

// generateName reserves a free adjective_surname name for id, as Docker
// names containers, and returns it.
func (x *index) generateName(id string) string {
	for i := 0; i < 6; i++ {
		name := "/" + randomName(i)
		if x.reserveName(name, id) == nil {
			return name
		}
	}
	name := "/" + id[:12]
	_ = x.reserveName(name, id)
	return name
}
