"""``codex-login completion bash|zsh|fish``: a completion script, generated from the
command table and each command's parser (so it never falls behind the commands)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.entrypoints.cli.errors import EXIT_OK
from codex_login.entrypoints.cli.parser import HELP_SUMMARY, build
from codex_login.entrypoints.cli.table import COMMANDS

if TYPE_CHECKING:
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.cli.wiring import Factory

SHELLS = ("bash", "zsh", "fish")
ABOUT = """\
Print a shell completion script for codex-login on stdout: commands and their
options complete on Tab. Load it from your shell's start-up file."""
EPILOG = """\
examples:
  echo 'eval "$(codex-login completion bash)"' >> ~/.bashrc
  echo 'eval "$(codex-login completion zsh)"' >> ~/.zshrc
  codex-login completion fish > ~/.config/fish/completions/codex-login.fish
"""


# Why --codex-home is refused (dispatch) and left out of the help (parser).
NO_CODEX_HOME = "the completion script reads no login"


@attrs.frozen(repr=False)
class Options(FieldsRepr):
    shell: str


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")


def options(args: argparse.Namespace) -> Options:
    return Options(shell=args.shell)


def run(options: Options, io: IO, factory: Factory) -> int:
    del factory
    parser, commands = build()
    table = {name: _options_of(command) for name, command in commands.items()}
    choices = {name: _choices_of(command) for name, command in commands.items()}
    summaries = {name: command.summary for name, command in COMMANDS.items()}
    summaries["help"] = HELP_SUMMARY
    script = {"bash": _bash, "zsh": _zsh, "fish": _fish}[options.shell]
    io.emit(script(_options_of(parser), table, summaries, choices))
    return EXIT_OK


# Each option: its spellings, its help, whether it takes a value.
Options_ = list[tuple[list[str], str, bool]]


def _options_of(parser: argparse.ArgumentParser) -> Options_:
    return [
        (list(action.option_strings), action.help or "", action.nargs != 0)
        for action in parser._actions  # argparse lists them nowhere public
        if action.option_strings and action.help != argparse.SUPPRESS
    ]


def _choices_of(parser: argparse.ArgumentParser) -> list[str]:
    """The values a command's positional argument takes, when it names them."""
    return [
        str(choice)
        for action in parser._actions  # argparse lists them nowhere public
        if not action.option_strings and action.choices
        for choice in action.choices
    ]


def _words(options: Options_) -> str:
    return " ".join(spelling for spellings, _, _ in options for spelling in spellings)


def _bash(
    global_: Options_,
    table: dict[str, Options_],
    summaries: dict[str, str],
    choices: dict[str, list[str]],
) -> str:
    cases = "".join(
        f'        {name}) words="{" ".join(choices[name] + [_words(options)])}" ;;\n'
        for name, options in table.items()
    )
    # Before the command only the global options come; the value of one is no command.
    valued = "|".join(
        spelling for spellings, _, takes_value in global_ if takes_value for spelling in spellings
    )
    return f"""\
# codex-login completion for bash (codex-login completion bash)
_codex_login() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" command="" skip="" word words
    for word in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        if [[ -n "$skip" ]]; then skip=""; continue; fi
        case "$word" in
            {valued}) skip=1 ;;
            -*) ;;
            *) command="$word"; break ;;
        esac
    done
    case "$command" in
        "") words="{" ".join(summaries)} {_words(global_)}" ;;
{cases}        *) words="" ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -o default -F _codex_login codex-login
"""


def _zsh(
    global_: Options_,
    table: dict[str, Options_],
    summaries: dict[str, str],
    choices: dict[str, list[str]],
) -> str:
    bash = _bash(global_, table, summaries, choices).split("\n", 1)[1]
    return f"""\
# codex-login completion for zsh (codex-login completion zsh), through bashcompinit
autoload -U +X bashcompinit && bashcompinit
{bash}"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(
    global_: Options_,
    table: dict[str, Options_],
    summaries: dict[str, str],
    choices: dict[str, list[str]],
) -> str:
    lines = ["# codex-login completion for fish (codex-login completion fish)"]
    lines.append("complete -c codex-login -f")
    for name, summary in summaries.items():
        lines.append(
            f"complete -c codex-login -n __fish_use_subcommand -a {name} -d {_fish_quote(summary)}"
        )
    for name, values in choices.items():
        if values:
            lines.append(
                f"complete -c codex-login -n '__fish_seen_subcommand_from {name}' "
                f"-a {_fish_quote(' '.join(values))}"
            )
    for condition, options in [("__fish_use_subcommand", global_)] + [
        (f"'__fish_seen_subcommand_from {name}'", options) for name, options in table.items()
    ]:
        for spellings, help_, takes_value in options:
            flags = " ".join(
                f"-l {s[2:]}" if s.startswith("--") else f"-s {s[1:]}" for s in spellings
            )
            value = " -r" if takes_value else ""
            lines.append(
                f"complete -c codex-login -n {condition} {flags}{value} -d {_fish_quote(help_)}"
            )
    return "\n".join(lines) + "\n"
