package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// optionsFileFlag is upstream's -@/--options-file: a YAML file whose top-level
// keys are command names, each mapping option names (without dashes, long or
// short) to values. The values replace the option defaults; what the command
// line gives wins over the file.
const optionsFileFlag = "options-file"

// addOptionsFileFlag gives every command that runs something the flag.
func addOptionsFileFlag(c *cobra.Command) {
	for _, sub := range c.Commands() {
		addOptionsFileFlag(sub)
	}
	if c.Runnable() && c.HasParent() && c.Flags().Lookup(optionsFileFlag) == nil {
		c.Flags().StringP(optionsFileFlag, "@", "", "YAML file of option values, by command name: {query-datasets: {collections: [a, b], limit: 10}}; the command line wins")
	}
}

// applyOptionsFile sets the options of cmd that the command line left alone
// from the file named by --options-file. As upstream, a file with no section
// for the command, or naming an option the command lacks, is a usage error.
func applyOptionsFile(cmd *cobra.Command) error {
	f := cmd.Flags().Lookup(optionsFileFlag)
	if f == nil || f.Value.String() == "" {
		return nil
	}
	file := f.Value.String()
	fail := func(format string, args ...any) error {
		return usagef("--options-file %s: %s", file, fmt.Sprintf(format, args...))
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fail("%v", err)
	}
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fail("%v", err)
	}
	section, ok := doc[cmd.Name()]
	if !ok {
		return fail("no section %q for this command", cmd.Name())
	}
	var opts yaml.Node
	if section.Kind != yaml.MappingNode {
		return fail("line %d: section %q is not a mapping of option names to values", section.Line, cmd.Name())
	}
	opts = section
	for i := 0; i+1 < len(opts.Content); i += 2 {
		key, val := opts.Content[i], opts.Content[i+1]
		name := strings.TrimLeft(key.Value, "-")
		flag := cmd.Flags().Lookup(name)
		if flag == nil && len(name) == 1 {
			flag = cmd.Flags().ShorthandLookup(name)
		}
		if flag == nil || flag.Name == optionsFileFlag {
			return fail("line %d: %q is not a valid option for %s", key.Line, name, cmd.Name())
		}
		if flag.Changed {
			continue // the command line wins
		}
		var values []string
		switch val.Kind {
		case yaml.SequenceNode:
			for _, item := range val.Content {
				values = append(values, item.Value)
			}
		case yaml.ScalarNode:
			values = []string{val.Value}
		default:
			return fail("line %d: option %q: want a value or a list of values", val.Line, name)
		}
		if err := setFlag(cmd.Flags(), flag, values); err != nil {
			return fail("line %d: option %q: %v", val.Line, name, err)
		}
	}
	return nil
}

// setFlag sets a flag from the file. A boolean option set to false whose
// negation is a flag of its own (--preserve-path/--no-preserve-path) sets the
// negation instead.
func setFlag(fs *pflag.FlagSet, flag *pflag.Flag, values []string) error {
	if flag.Value.Type() == "bool" && len(values) == 1 {
		on, err := parseBool(values[0])
		if err != nil {
			return err
		}
		if neg := fs.Lookup("no-" + flag.Name); neg != nil && neg.Value.Type() == "bool" {
			if err := fs.Set(neg.Name, fmt.Sprint(!on)); err != nil {
				return err
			}
		}
		return fs.Set(flag.Name, fmt.Sprint(on))
	}
	if len(values) > 1 && !strings.Contains(flag.Value.Type(), "Slice") && !strings.Contains(flag.Value.Type(), "Array") {
		return fmt.Errorf("takes one value, got %d", len(values))
	}
	for _, v := range values {
		if err := fs.Set(flag.Name, v); err != nil {
			return err
		}
	}
	return nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1", "y":
		return true, nil
	case "false", "no", "off", "0", "n":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", s)
}
