package cli

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Shell completion: the scripts ask the binary itself (`soccerpredict
// __complete WORD...`) for the words that may come next, so completion
// always matches the commands and flags of the binary on the PATH.

const bashCompletion = `# soccerpredict bash completion: source <(soccerpredict completion bash)
_soccerpredict() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local IFS=$'\n'
  COMPREPLY=($(compgen -W "$(soccerpredict __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)" -- "$cur"))
}
complete -o default -F _soccerpredict soccerpredict
`

const zshCompletion = `#compdef soccerpredict
# soccerpredict zsh completion: soccerpredict completion zsh > "${fpath[1]}/_soccerpredict"
_soccerpredict() {
  local -a words_next
  words_next=("${(@f)$(soccerpredict __complete "${(@)words[2,CURRENT-1]}" 2>/dev/null)}")
  compadd -a words_next
  _files
}
compdef _soccerpredict soccerpredict
`

const fishCompletion = `# soccerpredict fish completion: soccerpredict completion fish > ~/.config/fish/completions/soccerpredict.fish
complete -c soccerpredict -f -a '(soccerpredict __complete (commandline -opc)[2..-1])'
`

func runCompletion(e env, args []string) error {
	fs, _ := newFlags(e, "completion")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: name a shell: bash, zsh or fish", errUsage)
	}
	script, ok := map[string]string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}[fs.Arg(0)]
	if !ok {
		return fmt.Errorf("%w: no completion for shell %q (bash, zsh or fish)", errUsage, fs.Arg(0))
	}
	_, err := io.WriteString(e.stdout, script)
	return err
}

// complete prints, one a line, what may follow words among commands:
// subcommands of the command or group they name, and the flags of the
// command they name.
func complete(e env, commands []command, words []string) {
	var next []string
	// The longest command the words start with takes flags.
	var cmd *command
	for _, c := range commands {
		name := strings.Fields(c.name)
		if len(words) >= len(name) && slices.Equal(words[:len(name)], name) && (cmd == nil || len(name) > len(strings.Fields(cmd.name))) {
			c := c
			cmd = &c
		}
	}
	// Words after the command's own name that are all flags still allow its
	// subcommands only when there are none.
	for _, c := range commands {
		name := strings.Fields(c.name)
		if len(name) > len(words) && slices.Equal(name[:len(words)], words) && !slices.Contains(next, name[len(words)]) {
			next = append(next, name[len(words)])
		}
	}
	if len(words) == 0 {
		next = append(next, "help", "--version")
	}
	if cmd != nil {
		quiet := e
		quiet.stdout, quiet.stderr = io.Discard, io.Discard
		quiet.flags = func(fs *flag.FlagSet) {
			fs.VisitAll(func(f *flag.Flag) { next = append(next, "--"+f.Name) })
		}
		cmd.run(quiet, []string{"--help"})
	}
	for _, w := range next {
		fmt.Fprintln(e.stdout, w)
	}
}
