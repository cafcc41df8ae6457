package query

import (
	"fmt"
	"strings"

	"github.com/gobutler/butler/errs"
)

// Position is a place in the expression text: Offset is the 0-based byte offset,
// Line and Col are 1-based, Col counting characters (runes), not bytes.
type Position struct {
	Offset, Line, Col int
}

func (p Position) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// SyntaxError is every rejection of Parse: a lexical, grammatical or literal error
// at Pos in Expr. It wraps errs.ErrInvalid.
type SyntaxError struct {
	Pos  Position
	Msg  string
	Expr string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg) }

// Unwrap makes errors.Is(err, errs.ErrInvalid) hold: a bad expression is bad input.
func (e *SyntaxError) Unwrap() error { return errs.ErrInvalid }

// Caret returns the line of Expr holding the error and, below it, a '^' under the
// column, for showing to a person. Tabs before the column are kept so that the
// caret lines up in a terminal.
func (e *SyntaxError) Caret() string {
	lines := strings.Split(e.Expr, "\n")
	if e.Pos.Line < 1 || e.Pos.Line > len(lines) {
		return ""
	}
	line := strings.TrimSuffix(lines[e.Pos.Line-1], "\r")
	var b strings.Builder
	b.WriteString(line)
	b.WriteByte('\n')
	col := 1
	for _, r := range line {
		if col >= e.Pos.Col {
			break
		}
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
		col++
	}
	for ; col < e.Pos.Col; col++ { // the error may sit just past the end of the line
		b.WriteByte(' ')
	}
	b.WriteByte('^')
	return b.String()
}
