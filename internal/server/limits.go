package server

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// queryLimits counts running streaming queries, as upstream's QueryLimits:
// beyond max at once the server answers 503, beyond perUser for one user 429,
// both with Retry-After, so that clients back off or go to another replica.
type queryLimits struct {
	max, perUser int

	mu     sync.Mutex
	active int
	users  map[string]int
}

func newQueryLimits(max, perUser int) *queryLimits {
	return &queryLimits{max: max, perUser: perUser, users: map[string]int{}}
}

// acquire takes a slot for user ("" counts only against the server's
// limit) and returns its release, or the refusal.
func (l *queryLimits) acquire(user string, retry time.Duration) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	after := map[string]string{"Retry-After": strconv.Itoa(int(retry.Round(time.Second) / time.Second))}
	if l.active >= l.max {
		return nil, &httpError{status: http.StatusServiceUnavailable, detail: "The Butler Server is currently overloaded with requests.", headers: after}
	}
	if user != "" && l.users[user] >= l.perUser {
		return nil, &httpError{status: http.StatusTooManyRequests, detail: fmt.Sprintf("User %s has too many queries running already. Wait for your existing queries to complete, then try again.", user), headers: after}
	}
	l.active++
	if user != "" {
		l.users[user]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.active--
			if user != "" {
				if l.users[user]--; l.users[user] == 0 {
					delete(l.users, user)
				}
			}
		})
	}, nil
}
