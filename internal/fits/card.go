package fits

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

type cardKind int

const (
	kindValue      cardKind = iota
	kindCommentary          // COMMENT, HISTORY, blank or any keyword without a value indicator
	kindContinue            // CONTINUE of a long string
	kindEnd
)

// parseCard parses one 80-byte card image. s is the card as a string; substrings of
// it are kept in the Card, so callers convert a whole block to a string once and
// slice cards out of it, saving one allocation per key, comment and string.
func parseCard(s string) (Card, cardKind, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return Card{}, 0, fmt.Errorf("byte 0x%02x in column %d is not printable ASCII", s[i], i+1)
		}
	}
	key := strings.TrimRight(s[:8], " ")
	switch {
	case key == "END":
		// The standard wants columns 9-80 blank; text there is ignored, as astropy does.
		return Card{Key: "END"}, kindEnd, nil
	case s[8:10] == "= " && key != "":
		if err := checkKey(key); err != nil {
			return Card{}, 0, err
		}
		v, comment, err := parseValue(s[10:])
		if err != nil {
			return Card{}, 0, err
		}
		return Card{Key: strings.ToUpper(key), Value: v, Comment: comment}, kindValue, nil
	case key == "HIERARCH":
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break // no value: commentary, as the ESO convention has it
		}
		name := strings.Join(strings.Fields(s[8:eq]), " ")
		if name == "" {
			return Card{}, 0, errors.New("HIERARCH card without a keyword before '='")
		}
		v, comment, err := parseValue(s[eq+1:])
		if err != nil {
			return Card{}, 0, err
		}
		return Card{Key: strings.ToUpper(name), Value: v, Comment: comment}, kindValue, nil
	case key == "CONTINUE":
		v, comment, err := parseValue(s[8:])
		if err != nil {
			return Card{}, 0, err
		}
		if str, ok := v.(string); ok {
			return Card{Key: key, Value: str, Comment: comment}, kindContinue, nil
		}
		// A CONTINUE without a string is not part of a long string: keep its text.
	}
	if key != "" {
		if err := checkKey(key); err != nil {
			return Card{}, 0, err
		}
	}
	return Card{Key: strings.ToUpper(key), Comment: strings.TrimRight(s[8:], " ")}, kindCommentary, nil
}

// checkKey accepts the standard keyword characters; lower case is tolerated and
// folded to upper case by the caller.
func checkKey(key string) error {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("keyword %q has character %q", key, c)
		}
	}
	return nil
}

// parseValue parses a value field (what follows "= ") and its optional "/ comment".
func parseValue(s string) (any, string, error) {
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i == len(s) {
		return nil, "", nil
	}
	if s[i] == '\'' {
		str, rest, err := parseString(s[i:])
		if err != nil {
			return nil, "", err
		}
		rest = strings.TrimLeft(rest, " ")
		switch {
		case rest == "":
			return str, "", nil
		case rest[0] == '/':
			return str, strings.TrimSpace(rest[1:]), nil
		}
		return nil, "", fmt.Errorf("unexpected %q after string value", rest)
	}
	tok, comment := s[i:], ""
	if slash := strings.IndexByte(tok, '/'); slash >= 0 {
		tok, comment = tok[:slash], strings.TrimSpace(tok[slash+1:])
	}
	tok = strings.TrimRight(tok, " ")
	if tok == "" {
		return nil, comment, nil // undefined value
	}
	v, err := parseScalar(tok)
	return v, comment, err
}

// parseString parses a quoted string at the start of s: a doubled quote stands for one, and
// trailing blanks are not significant. It returns the text after the closing quote.
func parseString(s string) (string, string, error) {
	var b []byte // only built when the string holds a '' escape
	start := 1
	for j := 1; j < len(s); j++ {
		if s[j] != '\'' {
			continue
		}
		if j+1 < len(s) && s[j+1] == '\'' {
			b = append(b, s[start:j+1]...)
			j++
			start = j + 1
			continue
		}
		var str string
		if b == nil {
			str = s[start:j]
		} else {
			str = string(append(b, s[start:j]...))
		}
		return strings.TrimRight(str, " "), s[j+1:], nil
	}
	return "", "", errors.New("unterminated string value")
}

// parseScalar parses a logical, integer, real (E or D exponent) or complex value.
func parseScalar(tok string) (any, error) {
	switch tok {
	case "T":
		return true, nil
	case "F":
		return false, nil
	}
	if tok[0] == '(' {
		if tok[len(tok)-1] != ')' || strings.Count(tok, ",") != 1 {
			return nil, fmt.Errorf("bad complex value %q", tok)
		}
		return tok, nil // complex: callers that need it parse the text
	}
	isInt := true
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case '0' <= c && c <= '9':
		case (c == '+' || c == '-') && (i == 0 || tok[i-1] == 'E' || tok[i-1] == 'e' || tok[i-1] == 'D' || tok[i-1] == 'd'):
		case c == '.' || c == 'E' || c == 'e' || c == 'D' || c == 'd':
			isInt = false
		default:
			return nil, fmt.Errorf("bad value %q", tok)
		}
	}
	if isInt {
		if n, err := strconv.ParseInt(tok, 10, 64); err == nil {
			return n, nil
		}
		// Too large for int64: fall through and keep it as a real.
	}
	if strings.ContainsAny(tok, "Dd") {
		tok = strings.Map(func(r rune) rune {
			if r == 'D' || r == 'd' {
				return 'E'
			}
			return r
		}, tok)
	}
	f, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, nil // ±Inf or 0 on range overflow, as other readers do
		}
		return nil, fmt.Errorf("bad number %q", tok)
	}
	return f, nil
}
