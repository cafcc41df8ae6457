package cli

import (
	"bufio"
	"fmt"
	"strings"
)

// confirm asks a yes/no question on stdin; no input counts as no.
func (g *globals) confirm(question string) bool {
	fmt.Fprintf(g.stderr, "%s [y/N]: ", question)
	line, _ := bufio.NewReader(g.stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}
